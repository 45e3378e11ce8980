"""Per-env presets: tuned hyperparameters (and model options) for one env id, beside a plugin's family defaults.

Where a run's value comes from, lowest first (recorded in config.json's "sources"):
    default   the hyperparameter's own default
    family    the env family's default (mujoco, atari, classic, ...)
    preset    the plugin's preset for this env id (AlgorithmSpec.presets), or a preset file (--preset FILE)
    flag      the command line, train()'s keyword, a sweep or a trial

`--preset auto` (the default) takes the plugin's preset for the env id, if it has one; `--preset none` the
family's defaults alone; `--preset FILE` a JSON file: {"algorithm": "ppo", "env_id": "...", "hyperparameters":
{...}} (algorithm and env_id optional: checked when present), which `derl tune` writes for its best trial.
No torch, no gymnasium: `derl ALG -h --env-id ID` reads this."""
from __future__ import annotations

import os

from . import config as cfg
from . import files
from .errors import BadInput, printable

AUTO, NONE = "auto", "none"
MAX_BYTES, MAX_DEPTH, MAX_KEYS = 1 << 20, 8, 1000


def read_json(path: str, what: str):
    """A preset file, read by the one defensive reader (derl_core.files): at most 1 MiB, nesting at most
    MAX_DEPTH, finite numbers only; every failure one line naming the file."""
    return files.read_json(path, what, limit=MAX_BYTES, depth=MAX_DEPTH, keys=MAX_KEYS)


def preset_for(spec, env_id: str, choice: str | None) -> tuple:
    """(hyperparameters, label) of the preset `choice` selects for `spec` on `env_id`: ({}, None) without one."""
    choice = AUTO if choice is None else choice
    if choice == NONE:
        return {}, None
    if choice == AUTO:
        values = (getattr(spec, "presets", None) or {}).get(env_id)
        return (dict(values), f"{spec.distribution or spec.name} preset for {env_id}") if values else ({}, None)
    data = read_json(choice, "--preset file")
    where = f"--preset {printable(choice)[:120]}"
    if not isinstance(data, dict):
        raise BadInput(f"{where}: not a JSON object")
    values = data.get("hyperparameters")
    if not isinstance(values, dict):
        raise BadInput(f"{where}: it should hold \"hyperparameters\": an object of name: value")
    if data.get("algorithm", spec.name) != spec.name:
        raise BadInput(f"{where} is for algorithm {printable(str(data['algorithm']))[:40]!r}, not {spec.name}")
    if data.get("env_id", env_id) != env_id:
        print(f"derl: note: {where} was made for {printable(str(data['env_id']))[:80]}, used for {env_id}")
    bad = [k for k, v in values.items() if not isinstance(v, (str, int, float, bool))]
    if bad:
        raise BadInput(f"{where}: the value of {printable(str(bad[0]))[:40]!r} should be a number, true/false or text")
    return values, f"preset file {choice}"


def resolve(spec, registry, env_id: str, overrides: dict, choice: str | None = None) -> tuple:
    """(hyperparameters, sources): the family's defaults, then the preset, then `overrides`, each checked (a
    preset's bad value names the preset)."""
    family = registry.family_for(env_id)
    chain = registry.defaults_chain(family.name)
    preset, label = preset_for(spec, env_id, choice)
    if preset:
        try:
            cfg.resolve(spec, chain, preset)
        except BadInput as exc:
            raise BadInput(f"{label}: {exc}") from None
    hparams = cfg.resolve(spec, chain, {**preset, **overrides})
    return hparams, sources(spec, chain, preset, overrides)


def sources(spec, chain: list, preset: dict, overrides: dict) -> dict:
    """Where each hyperparameter's value came from: flag, preset, family or default."""
    out = {}
    for hp in spec.hyperparameters:
        if hp.name in overrides:
            out[hp.name] = "flag"
        elif hp.name in preset:
            out[hp.name] = "preset"
        elif any(fam in hp.family_defaults for fam in chain):
            out[hp.name] = "family"
        else:
            out[hp.name] = "default"
    return out
