"""The path of one run: resolve hyperparameters, make the env, build with the Factory, learn, summarise.

Everything that can be wrong with the user's input is checked before the run directory exists; a BadInput
raised later still removes the directory this run created (and nothing else)."""
from __future__ import annotations

import json
import os
import random
import shutil
import time

from . import config as cfg
from .errors import BadInput
from .spec import load_object


def default_logdir(env_id: str, alg: str, seed: int) -> str:
    return os.path.join("runs", f"{env_id.replace('/', '-')}__{alg}__{seed}__{int(time.time())}")


def check_logdir(logdir: str):
    if os.path.exists(logdir):
        raise BadInput(f"run directory '{logdir}' already exists; derl never overwrites a run "
                       f"(pick another --logdir, or continue it with 'derl resume {logdir}')")
    parent = os.path.dirname(os.path.abspath(logdir))
    existing = parent
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise BadInput(f"cannot create run directory '{logdir}': '{existing}' is not writable")


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {device} was asked for, but torch sees no CUDA GPU here; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got '{device}'")
    return device


def seed_everything(seed: int):
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_torch(device: str, threads: int | None = None):
    """`threads`: torch's intra-op threads (None: torch's default, one per core)."""
    import torch
    if threads:
        torch.set_num_threads(threads)


def resolve_hyperparameters(registry, spec, env_id: str, overrides: dict):
    family = registry.family_for(env_id)
    return family, cfg.resolve(spec, registry.defaults_chain(family.name), overrides)


def hyperparameter_table(hparams: dict) -> str:
    rows = "\n".join(f"|{k}|{v}|" for k, v in hparams.items())
    return "|hyperparameter|value|\n|-|-|\n" + rows


def train(registry, alg_name: str, env_id: str, overrides: dict, logdir: str | None = None, seed: int = 1,
          device: str = "auto", progress: bool = True, echo=print) -> str:
    spec = registry.algorithm(alg_name)
    family, hparams = resolve_hyperparameters(registry, spec, env_id, overrides)
    logdir = logdir or default_logdir(env_id, alg_name, seed)
    check_logdir(logdir)
    device = resolve_device(device)

    from . import env as envs
    venv = envs.make(env_id, hparams["num_envs"], seed=seed, registry=registry,
                     normalize=hparams.get("normalize_env", True))
    created = False
    try:
        envs.check_action_space(spec, venv)
        setup_torch(device)
        seed_everything(seed)
        factory_cls = load_object(spec.factory)
        os.makedirs(logdir)
        created = True
        record = {"algorithm": alg_name, "plugin": spec.distribution, "plugin_version": spec.version,
                  "env_id": env_id, "family": family.name, "seed": seed, "device": device,
                  "hyperparameters": hparams}
        with open(os.path.join(logdir, "config.json"), "w") as f:
            json.dump(record, f, indent=2)
        from .summary import Summary
        summary = Summary(logdir, hparams["total_steps"], progress=progress)
        summary.text("hyperparameters", hyperparameter_table(hparams))
        alg = factory_cls(**hparams).make(venv, device=device, seed=seed, summary=summary)
    except BaseException:
        venv.close()
        if created:
            shutil.rmtree(logdir, ignore_errors=True)
        raise
    try:
        alg.learn(hparams["total_steps"])
    finally:
        summary.close()
        venv.close()
    echo(f"run saved in {logdir} (mean return of last 100 episodes: {summary.mean_return:.1f}); "
         f"view it with: tensorboard --logdir {logdir}")
    return logdir
