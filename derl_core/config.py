"""Hyperparameters: defaults by env family, then user overrides, validated and typed."""
from __future__ import annotations

import math

from .errors import BadInput, printable

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def default_for(hp, families: list):
    """The default of `hp` for the first family in `families` (a family and those it inherits from)."""
    for fam in families:
        if fam in hp.family_defaults:
            return hp.family_defaults[fam]
    return hp.default


INT_MAX = 2**62   # larger counts cannot be meant (and overflow numpy and torch)


def parse_value(hp, raw, strict: bool = False):
    """`raw` (a command-line string, a default, or with `strict` a value read back from config.json, which
    must already have the right JSON type) as a checked value of `hp.type`."""
    if isinstance(raw, str) and not (strict and hp.type is not str):
        raw = raw.strip() if hp.type is not str else raw
        if hp.type is bool:
            low = raw.lower()
            if low not in TRUE | FALSE:
                raise BadInput(f"{hp.flag} expects true or false, got '{printable(raw)}'")
            value = low in TRUE
        else:
            try:
                value = hp.type(float(raw)) if hp.type is int and _is_integral(raw) else hp.type(raw)
            except (ValueError, OverflowError):
                raise BadInput(f"{hp.flag} expects {hp.type.__name__}, got '{printable(raw)[:60]}'") from None
    else:
        value = raw
    if hp.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hp.type) or hp.type is not bool and isinstance(value, bool):
        raise BadInput(f"{hp.flag} expects {hp.type.__name__}, got {printable(repr(value))[:60]}")
    if hp.type is float and not math.isfinite(value):
        raise BadInput(f"{hp.flag} must be a finite number, got {value!r}")
    if hp.type is int and abs(value) > INT_MAX:
        raise BadInput(f"{hp.flag} is too large: {value} (at most {INT_MAX})")
    if hp.type is str and not value.isprintable():
        raise BadInput(f"{hp.flag} must be printable text, got {printable(repr(value))[:60]}")
    if hp.choices is not None and value not in hp.choices:
        raise BadInput(f"{hp.flag} must be one of {', '.join(map(str, hp.choices))}, got {value!r}")
    if hp.low is not None and value < hp.low or hp.high is not None and value > hp.high:
        lo = "-inf" if hp.low is None else hp.low
        hi = "inf" if hp.high is None else hp.high
        raise BadInput(f"{hp.flag} must be in [{lo}, {hi}], got {value!r}")
    return value


def _is_integral(raw: str) -> bool:
    try:
        f = float(raw)
    except ValueError:
        return False
    return math.isfinite(f) and f.is_integer() and ("e" in raw.lower())   # allow 1e6 for step counts


def resolve(spec, families: list, overrides: dict, strict: bool = False) -> dict:
    """Defaults for the env family chain, then `overrides` ({name: raw string or value}), each checked, then
    the rules between them: the core's for run-level keys, then the plugin's own `spec.check`."""
    known = {hp.name: hp for hp in spec.hyperparameters}
    for name in overrides:
        if name not in known:
            import difflib
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean --{close[0].replace('_', '-')}?" if close else ""
            raise BadInput(f"unknown hyperparameter --{name.replace('_', '-')} for {spec.name}{hint}")
    resolved = {}
    for name, hp in known.items():
        raw = overrides[name] if name in overrides else default_for(hp, families)
        resolved[name] = parse_value(hp, raw, strict and name in overrides)
    check_together(spec, resolved)
    return resolved


def check_together(spec, hparams: dict):
    """Values that each parse but cannot work together."""
    total, num_envs = hparams.get("total_steps"), hparams.get("num_envs")
    if total is not None and num_envs is not None and num_envs > total:
        raise BadInput(f"--num-envs {num_envs} is more than --total-steps {total}")
    from .model_options import problem as model_problem
    bad_model = model_problem(hparams)
    if bad_model:
        raise BadInput(bad_model)
    if spec.check is not None:
        try:
            problem = spec.check(dict(hparams))
        except Exception as exc:   # a plugin's own check failing is its bug: name the plugin
            raise BadInput(f"the {spec.name} plugin ({spec.distribution}) failed to check its hyperparameters: "
                           f"{type(exc).__name__}: {exc}") from None
        if problem:
            raise BadInput(str(problem))


def rollout_problem(hparams: dict) -> str | None:
    """For algorithms that learn from rollouts of nsteps x num_envs (A2C, PPO): the first rollout must fit in
    the budget, and each minibatch must hold at least one sample."""
    batch = hparams["nsteps"] * hparams["num_envs"]
    if batch > hparams["total_steps"]:
        return (f"one rollout (--nsteps {hparams['nsteps']} x --num-envs {hparams['num_envs']} = {batch} steps) "
                f"is longer than --total-steps {hparams['total_steps']}")
    if hparams.get("num_minibatches", 1) > batch:
        return (f"--num-minibatches {hparams['num_minibatches']} is more than the {batch} samples of a rollout "
                f"(--nsteps x --num-envs)")
    return None


def replay_problem(hparams: dict) -> str | None:
    """For replay algorithms (DQN, SAC): a batch must fit in the buffer, a training phase in the budget."""
    if hparams["batch_size"] > hparams["buffer_size"]:
        return f"--batch-size {hparams['batch_size']} is more than --buffer-size {hparams['buffer_size']}"
    if hparams["train_every"] > hparams["total_steps"]:
        return f"--train-every {hparams['train_every']} is more than --total-steps {hparams['total_steps']}"
    return None
