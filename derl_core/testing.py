"""Contract checks every algorithm plugin passes. A plugin gets them by one entry in tests/test_contract.py
(or by calling these from its own tests)."""
from __future__ import annotations

import json
import os


def invoke(args):
    """Runs the derl CLI in-process (typer's test runner); returns the result."""
    from typer.testing import CliRunner

    from .cli import app, build_app
    build_app()
    return CliRunner().invoke(app, [str(a) for a in args])


def read_metrics(logdir) -> list:
    with open(os.path.join(logdir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def tags(logdir) -> set:
    return {key for row in read_metrics(logdir) for key in row if key != "step"}


def smoke(alg: str, env_id: str, overrides: dict, logdir) -> set:
    """A short run through the CLI; returns the summary tags it wrote."""
    args = ["run", alg, "--env-id", env_id, "--logdir", logdir, "--seed", 3, "--device", "cpu"]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = invoke(args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return tags(logdir)


def factory_refuses_unused(alg: str, env_id: str, overrides: dict):
    """The Factory must name a keyword argument it did not use."""
    import pytest

    from . import config, env as envs
    from .plugins import registry
    from .spec import load_object
    reg = registry()
    spec = reg.algorithm(alg)
    fam = reg.family_for(env_id)
    hparams = config.resolve(spec, reg.defaults_chain(fam.name), overrides)
    venv = envs.make(env_id, hparams["num_envs"], seed=0, registry=reg)
    try:
        with pytest.raises(ValueError, match="surplus_argument"):
            load_object(spec.factory)(**hparams, surplus_argument=1).make(venv)
    finally:
        venv.close()


def learning_run(alg: str, env_id: str, logdir, seed: int = 1, **overrides) -> list:
    """Trains through the CLI and returns the episodic returns it logged, in order."""
    args = [alg, "--env-id", env_id, "--seed", seed, "--logdir", logdir]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = invoke(args)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return [row["charts/episodic_return"] for row in read_metrics(logdir) if "charts/episodic_return" in row]
