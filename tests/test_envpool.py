"""The EnvPool backend against the gymnasium one: same observations (shape, dtype, scale, frame order), same
autoreset rule (the real last observation in final_obs), same episode statistics (whole games on Atari), seeds
honoured, and `derl run/resume/eval` on it. Skipped, saying why, where EnvPool cannot be installed."""
import functools
import json

import gymnasium as gym
import numpy as np
import pytest

try:
    import envpool  # noqa: F401
except Exception as exc:   # no wheel for this platform / Python, or one that does not load
    pytest.skip(f"EnvPool cannot be used here ({type(exc).__name__}: {exc}); derl runs on its gymnasium backend",
                allow_module_level=True)

from derl_core import env as envs
from derl_core.env import atari, mujoco
from derl_core.errors import BadInput


def rollout(venv, actions):
    """Steps `venv` through `actions` (T, N, ...): observations, rewards, flags, final obs and episodes."""
    out = {"obs": [], "rew": [], "term": [], "trunc": [], "final": [], "episodes": []}
    obs, _ = venv.reset(seed=0)
    out["obs"].append(obs)
    for t, a in enumerate(actions):
        obs, rew, term, trunc, info = venv.step(a)
        out["obs"].append(obs)
        out["rew"].append(rew)
        out["term"].append(term)
        out["trunc"].append(trunc)
        for i in np.flatnonzero(term | trunc):
            out["final"].append((t, i, np.asarray(info["final_obs"][i])))
        fi = info.get("final_info", {})
        if "episode" in fi:
            out["episodes"] += [(t, i, float(fi["episode"]["r"][i]), int(fi["episode"]["l"][i]))
                                for i in np.flatnonzero(fi["_episode"])]
    venv.close()
    return {k: (np.array(v) if k in ("obs", "rew", "term", "trunc") else v) for k, v in out.items()}


def test_envpool_is_the_default_where_the_family_has_it_and_the_flag_picks_gymnasium():
    for env_id in ("Hopper-v5", "BreakoutNoFrameskip-v4", "ALE/Pong-v5"):
        assert envs.make(env_id, envs.POOL_MIN_ENVS, seed=0).backend == "envpool"
        assert envs.make(env_id, envs.POOL_MIN_ENVS, seed=0, backend="gymnasium").backend == "gymnasium"
        assert envs.make(env_id, 1, seed=0).backend == "gymnasium"   # one env: EnvPool's hand-off costs more
        assert envs.make(env_id, 1, seed=0, backend="envpool").backend == "envpool"
    assert envs.make("CartPole-v1", 8, seed=0).backend == "gymnasium"
    with pytest.raises(BadInput, match="no EnvPool version of CartPole-v1"):
        envs.make("CartPole-v1", 1, backend="envpool")
    assert envs.make("Hopper-v5", 1, render_mode="rgb_array").backend == "gymnasium"   # videos render


@pytest.fixture
def no_reset_noise(monkeypatch):
    """MuJoCo episodes that start in the same state on both backends."""
    monkeypatch.setattr(gym, "make", functools.partial(gym.make, reset_noise_scale=0.0))
    task = mujoco.envpool_task

    def quiet(env_id, training=True):
        t = task(env_id, training)
        t.config["reset_noise_scale"] = 0.0
        return t
    monkeypatch.setattr(mujoco, "envpool_task", quiet)


def test_hopper_steps_identically_on_both_backends(no_reset_noise):
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (1200, 2, 3))
    a, b = (rollout(envs.make("Hopper-v5", 2, seed=0, backend=k, normalize=False), actions)
            for k in ("gymnasium", "envpool"))
    assert a["obs"].dtype == b["obs"].dtype == np.float64 and a["obs"].shape == b["obs"].shape == (1201, 2, 11)
    for name in ("Hopper-v5", "HalfCheetah-v5"):   # the same spaces, dtypes included (EnvPool's actions: float64)
        ga, gb = (envs.make(name, 1, backend=k) for k in ("gymnasium", "envpool"))
        assert ga.single_observation_space == gb.single_observation_space
        assert ga.single_action_space == gb.single_action_space
        ga.close(), gb.close()
    np.testing.assert_allclose(a["obs"], b["obs"], atol=1e-5)   # incl. the first obs of each new episode
    np.testing.assert_allclose(a["rew"], b["rew"], atol=1e-5)
    assert (a["term"] == b["term"]).all() and (a["trunc"] == b["trunc"]).all()
    assert len(a["final"]) == len(b["final"]) > 50   # Hopper falls every ~20 random steps
    for (ta, ia, fa), (tb, ib, fb) in zip(a["final"], b["final"]):   # the real last observation, not a reset one
        assert (ta, ia) == (tb, ib)
        np.testing.assert_allclose(fa, fb, atol=1e-5)
        assert not np.allclose(fa, a["obs"][ta + 1, ia])
    assert [e[:2] + (e[3],) for e in a["episodes"]] == [e[:2] + (e[3],) for e in b["episodes"]]
    np.testing.assert_allclose([e[2] for e in a["episodes"]], [e[2] for e in b["episodes"]], atol=1e-4)


def test_halfcheetah_agrees_and_truncates_at_1000_on_both_backends(no_reset_noise):
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, (1000, 1, 6))
    a, b = (rollout(envs.make("HalfCheetah-v5", 1, seed=0, backend=k, normalize=False), actions)
            for k in ("gymnasium", "envpool"))
    assert a["obs"].shape == b["obs"].shape == (1001, 1, 17)
    # the same physics: identical until chaos (and two MuJoCo builds) make the cheetahs drift apart
    np.testing.assert_allclose(a["obs"][:40], b["obs"][:40], atol=1e-3)
    np.testing.assert_allclose(a["rew"][:40], b["rew"][:40], atol=1e-3)
    for run in (a, b):
        assert not run["term"].any() and run["trunc"][:999].sum() == 0 and run["trunc"][999].all()
        (t, i, ret, length), = run["episodes"]
        assert (t, length) == (999, 1000) and ret == pytest.approx(run["rew"][:, 0].sum())
        (_, _, final), = run["final"]
        assert np.abs(final - run["obs"][1000, 0]).max() > 0.1   # the truncated episode's own last state


@pytest.fixture
def no_noops(monkeypatch):
    monkeypatch.setattr(atari, "NOOP_MAX", 0)


def test_atari_observations_have_the_same_shape_scale_and_frame_order(no_noops):
    a = envs.make("BreakoutNoFrameskip-v4", 1, seed=0, backend="gymnasium")
    b = envs.make("BreakoutNoFrameskip-v4", 1, seed=0, backend="envpool")
    assert a.single_observation_space == b.single_observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert a.single_action_space == b.single_action_space
    (oa, _), (ob, _) = a.reset(seed=0), b.reset(seed=0)
    for obs in (oa, ob):
        assert obs.dtype == np.uint8 and (obs[0, :3] == 0).all() and obs[0, 3].max() > 100   # zero padded
    # the same screen: crop, gray levels and resize agree; only ball/paddle pixels may differ (reset timing)
    assert (oa[0, 3] == ob[0, 3]).mean() > 0.99
    for venv, obs in ((a, oa), (b, ob)):
        nxt = venv.step(np.array([3]))[0]
        assert (nxt[0, 2] == obs[0, 3]).all() and (nxt[0, :2] == 0).all()   # oldest first
        venv.close()


def test_atari_training_semantics_and_whole_game_statistics_agree():
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, (2500, 4))
    runs = {k: rollout(envs.make("BreakoutNoFrameskip-v4", 4, seed=3, backend=k), actions)
            for k in ("gymnasium", "envpool")}
    stats = {}
    for name, run in runs.items():
        assert set(np.unique(run["rew"])) <= {0.0, 1.0}   # sign-clipped for training
        games = run["episodes"]
        assert len(games) >= 20
        # a lost life ends the training episode; statistics only arrive with the game over (5 lives)
        lives_lost = int(run["term"].sum())
        assert 4 * len(games) <= lives_lost <= 5 * len(games) + 4 * 4
        assert all(r == int(r) and r >= 0 and length > 60 for _, _, r, length in games)
        stats[name] = (np.mean([g[2] for g in games]), np.mean([g[3] for g in games]))
    (ra, la), (rb, lb) = stats["gymnasium"], stats["envpool"]
    assert abs(ra - rb) < 1.0 and 0.75 < la / lb < 1.33, stats   # random play scores alike on both


@pytest.mark.parametrize("cap", [27_000, 37])   # 37: games cut by the step cap, some inside the starting actions
def test_sb3_life_starts_on_envpool_step_exactly_as_the_gymnasium_stack(monkeypatch, cap):
    """`envpool_task(sb3_starts=True)`: EnvPool's episodic life and fire reset off, and NOOP, FIRE, RIGHT after a
    lost life, FIRE, RIGHT after a game's no-ops, hidden: with one no-op frame at a game's start on both (the only
    random part), the same actions give the same frames, rewards, ends and whole-game statistics."""
    monkeypatch.setattr(atari, "NOOP_MAX", 1)
    monkeypatch.setattr(atari, "MAX_AGENT_STEPS", cap)
    monkeypatch.setattr(atari, "envpool_task", functools.partial(atari.envpool_task, sb3_starts=True))
    actions = np.random.default_rng(0).integers(0, 4, (3000, 3))
    a, b = (rollout(envs.make("BreakoutNoFrameskip-v4", 3, seed=3, backend=k), actions)
            for k in ("gymnasium", "envpool"))
    assert (a["obs"] == b["obs"]).all() and (a["rew"] == b["rew"]).all()
    assert (a["term"] == b["term"]).all() and (a["trunc"] == b["trunc"]).all()
    assert a["term"].sum() > 100 and (a["trunc"].sum() > 200) == (cap < 100)
    assert a["episodes"] == b["episodes"] and len(a["episodes"]) > 30
    assert [f[:2] for f in a["final"]] == [f[:2] for f in b["final"]]
    for (_, _, fa), (_, _, fb) in zip(a["final"], b["final"]):   # a game over cuts the frame skip short, and the
        assert (fa[:3] == fb[:3]).all() and (fa[3] == fb[3]).mean() > 0.99   # stacks max-pool what they have


def test_atari_evaluation_plays_whole_games_pressing_fire_after_each_lost_life():
    """Evaluation envs: raw rewards, no end at a lost life, and FIRE pressed after it — so a policy that never
    fires still finishes its game (instead of idling until the 27k-step cap)."""
    for backend in ("gymnasium", "envpool"):
        venv = envs.make("BreakoutNoFrameskip-v4", 1, seed=5, backend=backend, training=False)
        venv.reset(seed=5)
        for t in range(3000):
            _, _, term, trunc, info = venv.step(np.array([0]))
            if term[0] or trunc[0]:
                break
        games = info["final_info"]
        assert term[0] and not trunc[0] and games["_episode"][0], backend
        assert games["episode"]["r"][0] == 0 and 100 < games["episode"]["l"][0] < 3000, backend
        venv.close()


def test_envpool_seeds_are_honoured():
    def first_frames(seed):
        venv = envs.make("BreakoutNoFrameskip-v4", 2, seed=seed, backend="envpool")
        obs = [venv.reset(seed=seed)[0]] + [venv.step(np.array([1, 3]))[0] for _ in range(40)]
        venv.close()
        return np.array(obs)
    assert (first_frames(7) == first_frames(7)).all()
    assert not (first_frames(7) == first_frames(8)).all()   # other no-op starts


def test_a_run_trains_resumes_and_evaluates_on_envpool(tmp_path, capsys):
    from derl_core.run.evaluate import evaluate
    from derl_core.plugins import registry
    from derl_core.run.session import resume, train
    from derl_core.run.rundir import read_metrics
    run = str(tmp_path / "run")
    train(registry(), "ppo", "Hopper-v5", {"total_steps": "2048", "nsteps": "512", "num_minibatches": "4",
                                           "num_epochs": "1"}, logdir=run, progress=False, echo=lambda *a: None,
          env_backend="envpool")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["run"]["env_backend"] == "envpool"
    assert [r for r in read_metrics(run) if "charts/episodic_return" in r]
    resume(registry(), run, total_steps=3072, progress=False, echo=lambda *a: None)
    assert max(r["step"] for r in read_metrics(run)) == 3072
    returns = evaluate(registry(), run, episodes=2, echo=lambda *a: None)
    assert len(returns) == 2
    with pytest.raises(BadInput, match="--env-backend must be one of envpool, gymnasium"):
        train(registry(), "ppo", "Hopper-v5", {}, logdir=str(tmp_path / "x"), env_backend="c++")
    assert not (tmp_path / "x").exists()


def test_a_family_that_cannot_load_is_one_line_and_writes_nothing(tmp_path):
    import os
    import subprocess
    import sys
    derl = os.path.join(os.path.dirname(sys.executable), "derl")
    out = subprocess.run([derl, "ppo", "--env-id", "Hopper-v5", "--logdir", str(tmp_path / "run")], cwd=tmp_path,
                         capture_output=True, text=True, env=dict(os.environ, MUJOCO_GL="no-such-gl"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "the mujoco env family (derl_core.env.mujoco) cannot be loaded" in out.stderr
    assert os.listdir(tmp_path) == []
