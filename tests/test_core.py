import numpy as np
import pytest

from derl_core import config
from derl_core.errors import BadInput
from derl_core.rl.factory import Factory
from derl_core.plugins import registry
from derl_core.rl.schedules import Linear


def test_factory_names_unused_arguments():
    class F(Factory):
        def build(self, env):
            return self.get("a")

    class Env:
        num_envs = 1

    assert F(a=1).make(Env()) == 1
    with pytest.raises(ValueError, match="did not use keyword arguments: b, c"):
        F(a=1, b=2, c=3).make(Env())


@pytest.mark.parametrize("env_id, family", [
    ("CartPole-v1", "classic"), ("Pendulum-v1", "classic"), ("LunarLander-v3", "classic"),
    ("BreakoutNoFrameskip-v4", "atari"), ("ALE/Breakout-v5", "atari"), ("PongNoFrameskip-v4", "atari"),
    ("HalfCheetah-v5", "mujoco"), ("Hopper-v3", "mujoco"), ("Walker2d-v4", "mujoco"),
    ("HalfCheetahBulletEnv-v0", "pybullet"), ("HopperBulletEnv-v0", "pybullet"),
])
def test_family_detection(env_id, family):
    assert registry().family_for(env_id).name == family


def test_defaults_by_family_then_override():
    reg = registry()
    spec = reg.algorithm("ppo")
    cls = config.resolve(spec, reg.defaults_chain("classic"), {})
    atari = config.resolve(spec, reg.defaults_chain("atari"), {})
    bullet = config.resolve(spec, reg.defaults_chain("pybullet"), {})
    assert (cls["nsteps"], cls["gamma"], cls["total_steps"]) == (32, 0.98, 100_000)
    assert (atari["nsteps"], atari["clip_range"], atari["num_envs"]) == (128, 0.1, 8)
    assert (bullet["nsteps"], bullet["num_minibatches"]) == (2048, 32)   # pybullet takes mujoco's defaults
    over = config.resolve(spec, reg.defaults_chain("atari"), {"nsteps": "64", "anneal_lr": "false",
                                                              "total_steps": "1e6"})
    assert over["nsteps"] == 64 and over["anneal_lr"] is False and over["total_steps"] == 1_000_000
    assert over["clip_range"] == 0.1


@pytest.mark.parametrize("overrides, message", [
    ({"nsteps": "abc"}, "expects int"), ({"gamma": "1.5"}, r"must be in \[0, 1\]"),
    ({"anneal_lr": "maybe"}, "true or false"), ({"lernin_rate": "1"}, "did you mean --learning-rate"),
    ({"nsteps": "0"}, "must be in"),
])
def test_bad_hyperparameters(overrides, message):
    reg = registry()
    with pytest.raises(BadInput, match=message):
        config.resolve(reg.algorithm("ppo"), reg.defaults_chain("classic"), overrides)


def test_linear_schedule():
    s = Linear(1.0, 0.0, 100)
    assert s(0) == 1.0 and abs(s(25) - 0.75) < 1e-12 and s(100) == 0.0 and s(1000) == 0.0


def test_runner_keeps_final_observation_and_episode_stats():
    from derl_core.env import make
    from derl_core.rl.policy import PolicyStep
    from derl_core.rl.rollout import EnvRunner

    class Recorder:
        def __init__(self):
            self.episodes = []

        def episode(self, ret, length, step):
            self.episodes.append((ret, length))

    class Right:
        def act(self, obs):
            return PolicyStep(np.ones(len(obs), dtype=np.int64))

    venv = make("CartPole-v1", 2, seed=0)
    rec = Recorder()
    runner = EnvRunner(venv, Right(), nsteps=40, seed=0, summary=rec)
    rollout = runner.collect()
    done = rollout.terminated | rollout.truncated
    assert done.any() and runner.step_count == 80
    t, i = map(int, np.argwhere(done)[0])
    # next_observations holds the real last observation (pole fallen), not the next episode's first one
    assert abs(rollout.next_observations[t, i][2]) > 0.2 or abs(rollout.next_observations[t, i][0]) > 2.4
    assert abs(rollout.observations[t + 1, i][2]) < 0.06
    assert rec.episodes and all(ret == length for ret, length in rec.episodes)
    venv.close()


def test_light_distributions_match_torch():
    import torch
    from torch.distributions import Categorical, Independent, Normal

    from derl_core.rl.policy import CategoricalLogits, DiagGaussian
    torch.manual_seed(0)
    logits, actions = torch.randn(50, 4), torch.randint(0, 4, (50,))
    ours, ref = CategoricalLogits(logits), Categorical(logits=logits)
    torch.testing.assert_close(ours.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    counts = torch.bincount(CategoricalLogits(torch.log(torch.tensor([[0.1, 0.6, 0.3]]).expand(20000, 3)))
                            .sample(), minlength=3) / 20000
    torch.testing.assert_close(counts, torch.tensor([0.1, 0.6, 0.3]), atol=0.015, rtol=0)
    mean, log_std, x = torch.randn(50, 3), torch.randn(3) * 0.5, torch.randn(50, 3)
    ours, ref = DiagGaussian(mean, log_std), Independent(Normal(mean, log_std.exp().expand_as(mean)), 1)
    torch.testing.assert_close(ours.log_prob(x), ref.log_prob(x))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    s = DiagGaussian(torch.zeros(20000, 1), torch.log(torch.tensor([2.0]))).sample()
    assert abs(s.std().item() - 2.0) < 0.05 and abs(s.mean().item()) < 0.05


def test_default_threads_share_the_cores_among_derl_trainings(tmp_path, monkeypatch):
    """Two trainings side by side get the cores shared out (torch's default thrashed: 47.5 s vs 8.8 s)."""
    import subprocess
    import time

    from derl_core.run import build
    from derl_core.env import make

    from .conftest import DERL
    venv = make("CartPole-v1", 2, seed=0)
    monkeypatch.setattr(build.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    proc = subprocess.Popen([DERL, "ppo", "--env-id", "CartPole-v1", "--total-steps", "1000000", "--logdir",
                             str(tmp_path / "r")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / "r").exists():   # it names itself derl-train first
            time.sleep(0.1)
        assert build.trainings_running() >= 2   # it, and this process (other tests' trainings may add to it)
        assert build.default_threads() <= 2
    finally:
        proc.kill()
        proc.wait()
        venv.close()
    # the share itself, with the count fixed (tests running beside this one would move a real count)
    for running, threads in ((1, 4), (2, 2), (3, 1), (8, 1)):
        monkeypatch.setattr(build, "trainings_running", lambda: running)
        assert build.default_threads() == threads
