"""Hindsight experience replay (--her, rl/her.py) for every off-policy algorithm: relabelled goals are goals the
same episode reached later, rewards are recomputed with the env's compute_reward over the whole n-step window,
unfinished episodes keep their goal, and a run with --her resumes exactly."""
import gymnasium as gym
import numpy as np
import pytest

from derl_core.env.goals import BitFlipping, PointGoal
from derl_core.rl.her import HindsightRelabel
from derl_core.rl.replay import ReplayStorage
from derl_core.rl.rollout import Rollout
from derl_core.testing import invoke, resume_matches_uninterrupted

BITS = "derl_core.env.goals:BitFlipping-v0"
POINT = "derl_core.env.goals:PointGoal-v0"


def fill(storage, env, steps, seed=0, n_envs=1):
    """Random episodes of `env` written into `storage` one step at a time (the rollout layout EnvRunner
    gives); returns the episodes' achieved goals per step, in order."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        action = int(rng.integers(env.action_space.n)) if hasattr(env.action_space, "n") else \
            rng.uniform(-1, 1, 2).astype(np.float32)
        nxt, reward, term, trunc, _ = env.step(action)
        stack = lambda o: {k: np.asarray(v)[None, None] for k, v in o.items()}   # noqa: E731 (steps, envs, ...)
        storage.add(Rollout(stack(obs), np.asarray(action)[None, None], np.array([[reward]], np.float32),
                            np.array([[term]]), np.array([[trunc]]), stack(nxt), None))
        obs = env.reset()[0] if term or trunc else nxt


def rollout_fields():
    import dataclasses
    return [f.name for f in dataclasses.fields(Rollout)]


@pytest.mark.parametrize("nstep", [1, 3])
def test_relabelled_goals_come_from_later_in_the_same_episode(nstep):
    assert rollout_fields()[:6] == ["observations", "actions", "rewards", "terminated", "truncated",
                                    "next_observations"]
    env = BitFlipping(6)
    her = HindsightRelabel(env.compute_reward, goals=4, strategy="future")
    storage = ReplayStorage(10_000, 1, env.observation_space, env.action_space, nstep=nstep, gamma=0.9, seed=1,
                            her=her)
    plain = ReplayStorage(10_000, 1, env.observation_space, env.action_space, nstep=nstep, gamma=0.9, seed=1)
    fill(storage, env, 600)
    fill(plain, BitFlipping(6), 600)
    batch = storage.sample(512)
    rows = batch.indices % storage.T
    original = plain.gather(np.zeros(len(rows), np.int64), rows)
    changed = np.any(batch.observations["desired_goal"] != original.observations["desired_goal"], axis=1)
    assert 0.5 < changed.mean() < 0.9   # 80% are relabelled, a few of those to the goal they had
    achieved = storage.frames["achieved_goal"][0]
    for i in np.flatnonzero(changed):
        r, end = rows[i], storage.ep_end[0, rows[i]]
        later = achieved[r + 1:end + 1]
        assert end > r and any(np.array_equal(g, batch.observations["desired_goal"][i]) for g in later)
        assert np.array_equal(batch.next_observations["desired_goal"][i], batch.observations["desired_goal"][i])
        k = storage._order(np.array([0]), np.array([r]))
        L = int(storage._lookahead(np.array([0]), np.array([r]), k)[0][0])
        expected = sum(0.9 ** j * env.compute_reward(achieved[r + j + 1], batch.observations["desired_goal"][i], {})
                       for j in range(L))
        assert np.isclose(batch.rewards[i], expected), (batch.rewards[i], expected)


def test_an_unfinished_episode_keeps_its_goal():
    env = PointGoal()
    storage = ReplayStorage(1000, 1, env.observation_space, env.action_space, seed=0,
                            her=HindsightRelabel(env.compute_reward, goals=64))
    fill(storage, env, 30)   # 30 of 50 steps: no episode has ended
    assert np.all(storage.ep_end == -1)
    batch = storage.sample(64)
    assert np.all(batch.observations["desired_goal"] == env.goal)


def test_final_strategy_takes_the_episodes_last_goal():
    env = BitFlipping(5)
    storage = ReplayStorage(1000, 1, env.observation_space, env.action_space, seed=0,
                            her=HindsightRelabel(env.compute_reward, goals=64, strategy="final"))
    fill(storage, env, 200)
    batch = storage.sample(128)
    rows = batch.indices % storage.T
    finals = storage.frames["achieved_goal"][0, storage.ep_end[0, rows]]
    same = np.all(batch.observations["desired_goal"] == finals, axis=1)
    assert same.mean() > 0.9


@pytest.mark.parametrize("alg, env_id, overrides", [
    ("dqn", BITS, {"total_steps": 400, "learning_starts": 64, "train_every": 16, "batch_size": 16,
                   "buffer_size": 1000, "her": "true"}),
    ("sac", POINT, {"total_steps": 240, "learning_starts": 64, "batch_size": 16, "buffer_size": 1000,
                    "net_arch": "16", "her": "true", "her_goals": 2}),
    ("td3", POINT, {"total_steps": 240, "learning_starts": 64, "batch_size": 16, "buffer_size": 1000,
                    "net_arch": "16", "her": "true", "her_strategy": "final"}),
])
def test_her_runs_resume_exactly(alg, env_id, overrides, tmp_path):
    resume_matches_uninterrupted(alg, env_id, overrides, tmp_path)


@pytest.mark.parametrize("args, says", [
    (["dqn", "--env-id", "CartPole-v1", "--her"], "--her needs a goal env"),
    (["sac", "--env-id", POINT, "--her", "--her-strategy", "episode"], "--her-strategy"),
])
def test_her_on_what_it_cannot_take_is_one_line_and_no_run(args, says, tmp_path):
    result = invoke([*args, "--total-steps", 512, "--logdir", tmp_path / "r"])
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_ppo_has_no_her():
    result = invoke(["ppo", "--env-id", POINT, "--her"])
    assert result.exit_code == 2 and "--her" in result.stderr
