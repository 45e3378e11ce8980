"""The contract every algorithm plugin keeps, as functions a plugin calls from its own tests:

    from derl_core.testing import check_plugin

    def test_contract(tmp_path):
        check_plugin("foo", "CartPole-v1", {"total_steps": 512}, tmp_path, summaries={"losses/policy_loss"})

`check_plugin` runs them all through the real CLI (in-process): a smoke run writing the summaries, the same seed
giving identical metrics, a run resumed from a middle checkpoint ending identical to an uninterrupted one, a
NaN stopping the run with a usable checkpoint, bad hyperparameters refused in one line, and the Factory
refusing a keyword argument it did not read. Each is also a function of its own. `overrides` must keep the
run short and let it update several times (e.g. a small learning_starts for replay algorithms)."""
from __future__ import annotations

import contextlib
import os
import shutil

CHARTS = {"charts/episodic_return", "charts/episodic_length"}


def invoke(args):
    """Runs the derl CLI in-process (typer's test runner); returns the result."""
    from typer.testing import CliRunner

    from .cli import app, build_app
    build_app()
    return CliRunner().invoke(app, [str(a) for a in args])


def read_metrics(logdir) -> list:
    from .run.rundir import read_metrics as read
    return read(str(logdir))


def tags(logdir) -> set:
    return {key for row in read_metrics(logdir) for key in row if key != "step"}


def run_args(alg: str, env_id: str, overrides: dict, logdir, seed: int = 3, extra=()) -> list:
    args = ["run", alg, "--env-id", env_id, "--logdir", logdir, "--seed", seed, "--device", "cpu", *extra]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", value]
    return args


def _ok(result):
    assert result.exit_code == 0, (result.stdout[-2000:], result.stderr, result.exception)


def smoke(alg: str, env_id: str, overrides: dict, logdir) -> set:
    """A short run through the CLI; returns the summary tags it wrote."""
    _ok(invoke(run_args(alg, env_id, overrides, logdir)))
    return tags(logdir)


def same_state(a, b, path="state"):
    """Asserts two checkpoint states are identical (tensors and arrays exactly)."""
    import numpy as np
    import torch
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    else:
        assert a == b, path


def same_seed_same_metrics(alg: str, env_id: str, overrides: dict, tmp_path):
    a, b = os.path.join(tmp_path, "seed_a"), os.path.join(tmp_path, "seed_b")
    smoke(alg, env_id, overrides, a)
    smoke(alg, env_id, overrides, b)
    with open(os.path.join(a, "metrics.jsonl"), "rb") as fa, open(os.path.join(b, "metrics.jsonl"), "rb") as fb:
        assert fa.read() == fb.read(), "two runs with the same seed wrote different metrics"
    assert read_metrics(a)


def resume_matches_uninterrupted(alg: str, env_id: str, overrides: dict, tmp_path):
    """A run resumed from a middle checkpoint ends with the same state and metrics as an uninterrupted one."""
    from .run import checkpoint as ckpt
    full, cut = os.path.join(tmp_path, "full"), os.path.join(tmp_path, "cut")
    every = max(1, int(overrides.get("total_steps", 1000)) // 4)
    _ok(invoke(run_args(alg, env_id, overrides, full, extra=["--checkpoint-every", every,
                                                             "--keep-checkpoints", 1000])))
    shutil.copytree(full, cut)
    found = ckpt.list_checkpoints(cut)
    assert len(found) >= 3, f"expected several checkpoints, got {found}"
    middle = found[len(found) // 2]
    for later in found:
        if later > middle:
            os.remove(later)
    _ok(invoke(["resume", cut]))
    a, b = ckpt.load(ckpt.list_checkpoints(full)[-1]), ckpt.load(ckpt.list_checkpoints(cut)[-1])
    assert a["step"] == b["step"]
    same_state(a["alg"], b["alg"])
    with open(os.path.join(full, "metrics.jsonl")) as fa, open(os.path.join(cut, "metrics.jsonl")) as fb:
        assert fa.read() == fb.read(), "the resumed run wrote other metrics than the uninterrupted one"


@contextlib.contextmanager
def nan_rewards():
    """Every reward the EnvRunner collects becomes NaN (what a broken env does)."""
    import numpy as np

    from .rl.rollout import EnvRunner
    real = EnvRunner.collect

    def poisoned(self, nsteps=None):
        rollout = real(self, nsteps)
        rollout.rewards = np.full_like(rollout.rewards, np.nan, dtype=np.float32)
        return rollout
    EnvRunner.collect = poisoned
    try:
        yield
    finally:
        EnvRunner.collect = real


def nan_stops_with_a_usable_checkpoint(alg: str, env_id: str, overrides: dict, tmp_path):
    """NaN rewards: the run stops (exit 1) naming the step and the last good checkpoint, which loads."""
    from .run import checkpoint as ckpt
    run = os.path.join(tmp_path, "nan")
    with nan_rewards():
        result = invoke(run_args(alg, env_id, overrides, run))
    assert result.exit_code == 1, (result.stdout[-2000:], result.stderr, result.exception)
    assert "not finite" in result.stderr and "the last good checkpoint is" in result.stderr, result.stderr
    good = ckpt.list_checkpoints(run)
    assert good and good[-1] in result.stderr
    ckpt.load(good[-1])


def bad_values(hp) -> list:
    """Values of `hp` that must be refused."""
    out = ["maybe"] if hp.type is bool else []
    if hp.type in (int, float):
        out += ["not-a-number", "nan" if hp.type is float else "1.5"]
        if hp.low is not None:
            out.append(str(hp.low - 1))
        if hp.high is not None:
            out.append(str(hp.high + 1))
    if hp.choices is not None:
        out.append("not-a-choice")
    return out


def bad_hyperparameters_refused(alg: str, env_id: str, tmp_path):
    """Every declared hyperparameter refuses values of the wrong type or out of range: one line, exit 2,
    no run directory."""
    from .plugins import registry
    run = os.path.join(tmp_path, "refused")
    for hp in registry().algorithm(alg).hyperparameters:
        for value in bad_values(hp):
            result = invoke(["run", alg, "--env-id", env_id, "--logdir", run, hp.flag, value])
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("derl: error:"), \
                (hp.flag, value, result.stderr, result.exception)
            assert hp.flag in lines[0], (hp.flag, value, lines[0])
            assert not os.path.exists(run), (hp.flag, value)


def factory_refuses_unused(alg: str, env_id: str, overrides: dict):
    """The Factory must name a keyword argument it did not use."""
    from . import config, env as envs
    from .plugins import registry
    from .spec import load_object
    reg = registry()
    spec = reg.algorithm(alg)
    fam = reg.family_for(env_id)
    hparams = config.resolve(spec, reg.defaults_chain(fam.name), overrides)
    venv = envs.make(env_id, hparams["num_envs"], seed=0, registry=reg)
    try:
        load_object(spec.factory)(**hparams, surplus_argument=1).make(venv)
    except ValueError as exc:
        assert "surplus_argument" in str(exc), exc
    else:
        raise AssertionError(f"{spec.factory} accepted a keyword argument it never read")
    finally:
        venv.close()


def check_plugin(alg: str, env_id: str, overrides: dict, tmp_path, summaries=(), learns: bool = True):
    """The whole contract. `summaries`: tags the algorithm must write besides episode returns and lengths.
    `learns=False` (an algorithm without gradient steps) skips the NaN check."""
    tmp_path = str(tmp_path)
    written = smoke(alg, env_id, overrides, os.path.join(tmp_path, "smoke"))
    missing = (CHARTS | set(summaries)) - written
    assert not missing, f"{alg} did not write {sorted(missing)}"
    same_seed_same_metrics(alg, env_id, overrides, tmp_path)
    resume_matches_uninterrupted(alg, env_id, overrides, tmp_path)
    if learns:
        nan_stops_with_a_usable_checkpoint(alg, env_id, overrides, tmp_path)
    bad_hyperparameters_refused(alg, env_id, tmp_path)
    factory_refuses_unused(alg, env_id, overrides)


def learning_run(alg: str, env_id: str, logdir, seed: int = 1, **overrides) -> list:
    """Trains through the CLI and returns the episodic returns it logged, in order."""
    args = [alg, "--env-id", env_id, "--seed", seed, "--logdir", logdir]
    for key, value in overrides.items():
        args += [f"--{key.replace('_', '-')}", value]
    _ok(invoke(args))
    return [row["charts/episodic_return"] for row in read_metrics(logdir) if "charts/episodic_return" in row]


__all__ = ["check_plugin", "smoke", "same_seed_same_metrics", "resume_matches_uninterrupted",
           "nan_stops_with_a_usable_checkpoint", "bad_hyperparameters_refused", "factory_refuses_unused",
           "learning_run", "invoke", "read_metrics", "tags", "same_state", "nan_rewards"]
