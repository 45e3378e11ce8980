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


# ------------------------------------------------------------------------ generated spaces x every algorithm
def observation_spaces(max_depth: int = 2):
    """A Hypothesis strategy of observation spaces real envs use: Box of every dtype (uint8, int8..int64,
    float16..float64, bool), rank 0-4, finite, infinite and asymmetric bounds, pixel-sized and small uint8;
    Discrete with a start; MultiDiscrete and MultiBinary of any shape; Dict and Tuple nested `max_depth` deep;
    and the spaces no encoder takes (Text, Sequence, Graph)."""
    import gymnasium as gym
    import numpy as np
    from hypothesis import strategies as st

    shapes = st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple)

    @st.composite
    def box(draw):
        dtype = np.dtype(draw(st.sampled_from(["uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                                               "float64", "bool"])))
        if dtype == np.uint8 and draw(st.booleans()):   # an image: (H, W, C) or (C, H, W), pixels or codes
            side, channels = draw(st.integers(5, 40)), draw(st.sampled_from([1, 3]))
            shape = (side, side, channels) if draw(st.booleans()) else (channels, side, side)
            return gym.spaces.Box(0, draw(st.sampled_from([10, 255])), shape, np.uint8)
        shape = draw(shapes)
        if dtype == np.bool_:
            return gym.spaces.Box(0, 1, shape, np.bool_)
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            low = draw(st.integers(max(int(info.min), -1000), 0 if dtype.kind == "i" else 0))
            return gym.spaces.Box(low, draw(st.integers(low + 1, min(int(info.max), 1000))), shape, dtype)
        bound = draw(st.sampled_from(["finite", "infinite", "asymmetric"]))
        low, high = {"finite": (-1.0, 1.0), "infinite": (-np.inf, np.inf), "asymmetric": (-2.0, np.inf)}[bound]
        return gym.spaces.Box(low, high, shape, dtype)

    leaf = st.one_of(
        box(),
        st.builds(lambda n, start: gym.spaces.Discrete(n, start=start), st.integers(1, 6), st.integers(-3, 3)),
        st.lists(st.integers(1, 4), min_size=1, max_size=3).map(lambda nvec: gym.spaces.MultiDiscrete(nvec)),
        st.one_of(st.integers(1, 4), st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple))
        .map(gym.spaces.MultiBinary),
    )
    unencodable = st.sampled_from([
        gym.spaces.Text(8), gym.spaces.Sequence(gym.spaces.Discrete(3)),
        gym.spaces.Graph(gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(2))])

    def containers(children):
        keys = st.lists(st.sampled_from(["a", "b", "c", "image", "state"]), min_size=1, max_size=3, unique=True)
        return st.one_of(
            keys.flatmap(lambda ks: st.tuples(*[children for _ in ks]).map(
                lambda parts: gym.spaces.Dict(dict(zip(ks, parts))))),
            st.lists(children, min_size=1, max_size=3).map(lambda parts: gym.spaces.Tuple(parts)))

    inner = leaf
    for _ in range(max_depth):
        inner = st.one_of(leaf, containers(inner))
    return st.one_of(inner, inner, inner, unencodable)   # mostly encodable


def action_spaces():
    """A Hypothesis strategy of action spaces: Discrete with a start, Box with finite and infinite bounds,
    MultiDiscrete, MultiBinary."""
    import gymnasium as gym
    import numpy as np
    from hypothesis import strategies as st
    return st.one_of(
        st.builds(lambda n, start: gym.spaces.Discrete(n, start=start), st.integers(2, 5), st.integers(-2, 2)),
        st.builds(lambda n, lo: gym.spaces.Box(lo, lo + 2.0, (n,), np.float32), st.integers(1, 3),
                  st.sampled_from([-1.0, 0.0, 3.0])),
        st.just(gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)),
        st.lists(st.integers(2, 4), min_size=1, max_size=3).map(lambda nvec: gym.spaces.MultiDiscrete(nvec)),
        st.integers(1, 4).map(gym.spaces.MultiBinary),
    )


class SpacesEnv:
    """An env of any observation and action space: samples from the space, a random reward, 6 steps an
    episode. Made through `spaces_env_id` (gymnasium's registry, in this process)."""

    def __new__(cls, observation_space, action_space):
        import gymnasium as gym
        import numpy as np

        class Env(gym.Env):
            def __init__(self):
                self.observation_space, self.action_space, self.t = observation_space, action_space, 0

            def reset(self, *, seed=None, options=None):
                super().reset(seed=seed)
                self.observation_space.seed(int(self.np_random.integers(2**31)))
                self.t = 0
                return self.observation_space.sample(), {}

            def step(self, action):
                assert self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype)
                                                  if self.action_space.shape else action), action
                self.t += 1
                return self.observation_space.sample(), float(self.np_random.normal()), False, self.t >= 6, {}
        return Env()   # (the env family adds the episode statistics)


_SPACES_IDS = {}


def spaces_env_id(observation_space, action_space) -> str:
    """A gymnasium id (registered in this process) for an env of these spaces."""
    import gymnasium as gym
    key = (repr(observation_space), repr(action_space))
    if key not in _SPACES_IDS:
        env_id = f"DerlSpaces{len(_SPACES_IDS)}-v0"
        gym.register(env_id, entry_point=lambda o=observation_space, a=action_space: SpacesEnv(o, a))
        _SPACES_IDS[key] = env_id
    return _SPACES_IDS[key]


def space_contract(alg: str, overrides: dict, observation_space, action_space, logdir) -> str:
    """For one pair of spaces, `alg` either trains (`overrides` keep it to a couple of updates), saves,
    resumes and predicts an action in the action space ("trained"), or refuses before training in one line
    naming the space and the algorithms that can ("refused": no run directory is left)."""
    import os

    from .errors import BadInput
    from .plugins import registry
    from .run.agent import load
    from .run.api import train
    from .run.session import resume
    env_id = spaces_env_id(observation_space, action_space)
    logdir = str(logdir)
    try:
        run = train(alg, env_id, logdir=logdir, seed=0, **overrides)
    except BadInput as exc:
        message = str(exc)
        assert "\n" not in message and not os.path.exists(logdir), message
        assert "cannot handle" in message and ("algorithms that can" in message or "no installed algorithm" in
                                               message), message
        return "refused"
    total = read_metrics(run)[-1]["step"]
    resume(registry(), run, total_steps=total + 64, progress=False, echo=lambda *a: None, signals=False)
    agent = load(run)
    observation_space.seed(1)
    action = agent.predict(observation_space.sample())
    assert action_space.contains(action), (action, action_space)
    return "trained"
