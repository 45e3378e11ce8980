"""Normalisation switches (derl_core.model_options.normalization_hyperparameters): each on or off from the
command line with per-family defaults, applied by the core for every family, saved with checkpoints, applied
by load().predict and baked into derl export; records made before the switches keep what they did."""
import json

import numpy as np
import pytest

from derl_core import config, load, train
from derl_core.env import state_objects
from derl_core.model_options import normalization
from derl_core.plugins import registry
from derl_core.run.record import RunRecord, resolve_options

from .conftest import run_derl


def resolved(alg, family, **overrides):
    reg = registry()
    return config.resolve(reg.algorithm(alg), reg.defaults_chain(family), overrides)


@pytest.mark.parametrize("alg", ["ppo", "a2c", "sac", "dqn"])
def test_every_algorithm_offers_the_switches(alg):
    h = resolved(alg, "classic")
    assert {"normalize_obs", "normalize_reward", "clip_obs", "clip_reward"} <= set(h)
    assert not h["normalize_obs"] and not h["normalize_reward"]


@pytest.mark.parametrize("alg, family, on", [("ppo", "mujoco", True), ("a2c", "mujoco", True),
                                             ("ppo", "pybullet", True), ("sac", "mujoco", False),
                                             ("ppo", "atari", False)])
def test_family_defaults_are_what_each_family_did(alg, family, on):
    h = resolved(alg, family)
    assert (h["normalize_obs"], h["normalize_reward"]) == (on, on)


def test_obs_only_on_classic_control_saved_and_predicted(tmp_path):
    """--normalize-obs on a family that never normalised: the statistics move, are saved, and predict uses
    them (a raw observation and its normalised form give the policy's action on the normalised one)."""
    run = train("ppo", "CartPole-v1", total_steps=512, normalize_obs=True, seed=2, logdir=str(tmp_path / "r"))
    agent = load(run)
    (norm,) = agent.normalizers
    assert norm.obs and not norm.reward and norm.obs_rms.count > 500
    obs = np.array([[0.1, -0.3, 0.02, 0.4]], np.float32)
    moved = norm.normalize(obs)
    assert not np.allclose(moved, obs)
    from derl_core.rl.spaces import env_actions
    direct = env_actions(agent.action_space, agent.policy.act(moved, True).actions)
    assert agent.predict(obs).tolist() == direct.tolist()
    config_json = json.load(open(tmp_path / "r" / "config.json"))
    assert config_json["hyperparameters"]["normalize_obs"] is True


def test_reward_only_leaves_observations_and_export_plain(tmp_path):
    run = train("ppo", "Pendulum-v1", total_steps=400, nsteps=200, num_envs=1, normalize_reward=True, seed=0,
                logdir=str(tmp_path / "r"))
    agent = load(run)
    (norm,) = agent.normalizers
    assert norm.reward and not norm.obs and norm.affine() is None
    obs = np.array([[0.5, -0.5, 1.0]], np.float32)
    assert norm.normalize(obs) is obs and norm.obs_rms.count < 1e-3   # untouched statistics
    assert norm.ret_rms.count > 300
    res = run_derl(["export", run, "--out", tmp_path / "p.onnx"])
    assert res.returncode == 0, res.stderr


def test_mujoco_switched_off_has_no_normaliser(tmp_path):
    run = train("ppo", "Hopper-v5", total_steps=256, nsteps=128, normalize_obs=False, normalize_reward=False,
                seed=0, logdir=str(tmp_path / "r"))
    assert load(run).normalizers == []


def test_clip_reaches_the_wrapper():
    from derl_core import env as envs
    venv = envs.make("CartPole-v1", 2, seed=0, normalize=normalization(
        resolved("ppo", "classic", normalize_obs=True, normalize_reward=True, clip_obs=0.5, clip_reward=0.25)))
    (norm,) = [o for o in state_objects(venv).values()]
    venv.reset(seed=0)
    obs, rewards, *_ = venv.step(np.array([0, 1]))
    assert np.abs(obs).max() <= 0.5 and np.abs(rewards).max() <= 0.25 and norm.gamma == 0.98   # PPO classic's


def test_image_observations_are_refused_in_one_line(tmp_path):
    res = run_derl(["ppo", "--env-id", "BreakoutNoFrameskip-v4", "--normalize-obs", "true", "--total-steps", "1024",
                    "--logdir", tmp_path / "r"])
    assert res.returncode == 2 and "--normalize-obs needs vector Box observations" in res.stderr, res.stderr
    ours = [line for line in res.stderr.splitlines() if line.startswith("derl")]   # (ALE prints its banner)
    assert len(ours) == 1 and "Traceback" not in res.stderr


def test_sac_records_with_the_old_switch_validate_and_resume_as_before():
    """SAC's normalize_env (one switch for both) became normalize_obs + normalize_reward."""
    reg = registry()
    now = resolved("sac", "mujoco", normalize_obs=True, normalize_reward=True)
    old = {k: v for k, v in now.items() if k not in ("normalize_obs", "normalize_reward", "clip_obs",
                                                      "clip_reward")}
    old["normalize_env"] = True
    record = RunRecord("sac", "Hopper-v5", 1, old, resolve_options({}), "mujoco")
    record.validate(reg)
    assert record.hyperparameters == now
    from derl_core.run import checkpoint as ckpt
    assert ckpt.differences(ckpt.fingerprint(RunRecord("sac", "Hopper-v5", 1, old)),
                            ckpt.fingerprint(record)) == []


def test_a_plugin_without_the_switches_leaves_it_to_the_family():
    assert normalization({"gamma": 0.9}) is True
    assert normalization({"normalize_obs": False, "gamma": 0.9})["gamma"] == 0.9
