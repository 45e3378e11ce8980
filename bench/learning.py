"""`make bench-learning`: does derl learn as well as Stable-Baselines3? Seeds, one metric, intervals (issue 18).

    python bench/learning.py [--parallel 2] [--only CASE ...] [--lib derl|sb3|derl-envpool|derl-gymnasium] [--max-minutes M] [--table]

* Cases at published budgets (CASES below, in the order they run): A2C CartPole-v1 500k, DQN CartPole-v1 and
  Acrobot-v1 100k, SAC Hopper-v5 and HalfCheetah-v5 100k, PPO Hopper-v5, HalfCheetah-v5 and Walker2d-v5 1M, PPO
  BreakoutNoFrameskip-v4 1M (derl on EnvPool and on gymnasium, so the emulator stack is separated from the
  algorithm). 5 seeds per case and library; 3 on Breakout (a run is about an hour here).
* The same effective settings: the SB3 side is built from derl's resolved defaults for the case (config.resolve,
  the same resolver `derl` uses), mapped flag by flag; PPO's value loss is 0.5·coef·MSE in derl (CleanRL's form)
  and coef·MSE in SB3, so SB3 gets vf_coef = value_coef / 2 (the same weight). What cannot be matched is listed
  in MISMATCHES and printed under the table.
* One metric for both: every run evaluates deterministically on a separate env every 5% of training (10
  episodes; SB3 through its own `evaluate_policy`, its VecNormalize statistics synced as EvalCallback does); a
  run's score is the mean of its evaluations in the last 10% of training. Training-return curves are kept too.
* Statistics with rliable (Agarwal et al. 2021): per case the interquartile mean (IQM) of the scores with a 95%
  stratified-bootstrap interval, and the probability that a derl run beats an SB3 run (with its interval); over
  cases the IQM of scores normalised by (score - random) / (reference - random), REFERENCE being rl-zoo's
  published return. derl is "ahead" / "behind" on a case when the interval of that probability lies above /
  below 0.5, "level" otherwise.
* Incremental: a finished (case, library, seed) is stored at once in bench/results/learning/ with the commit it
  ran on; the next invocation runs only what is missing, in the fixed order (case by case, seed by seed);
  `--max-minutes` stops launching new runs after M minutes. Two runs at a time, one torch thread each. The
  table (bench/results/learning.md) and one PNG per case (eval mean with a 95% band over seeds; training
  returns) are rebuilt from what is stored. When a default a case runs changes, the case's revision (one more CHANGES entry)
  is bumped: its older runs stay stored and are listed as superseded, and the case is run again.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
STORE = os.path.join(RESULTS, "learning")
DERL = os.path.join(os.path.dirname(sys.executable), "derl")

# case: algorithm, env id, steps, seeds, libraries (derl variants carry their extra flags)
CASES = {
    "a2c-cartpole": ("a2c", "CartPole-v1", 500_000, 5, {"derl": [], "sb3": None}),
    "dqn-cartpole": ("dqn", "CartPole-v1", 100_000, 5, {"derl": [], "sb3": None}),
    "dqn-acrobot": ("dqn", "Acrobot-v1", 100_000, 5, {"derl": [], "sb3": None}),
    "sac-hopper": ("sac", "Hopper-v5", 100_000, 5, {"derl": [], "sb3": None}),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", 100_000, 5, {"derl": [], "sb3": None}),
    "ppo-hopper": ("ppo", "Hopper-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    "ppo-halfcheetah": ("ppo", "HalfCheetah-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    "ppo-walker2d": ("ppo", "Walker2d-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    "ppo-breakout": ("ppo", "BreakoutNoFrameskip-v4", 1_000_000, 3,
                     {"derl-envpool": ["--env-backend", "envpool"], "derl-gymnasium": ["--env-backend", "gymnasium"],
                      "sb3": None}),
    # rl-zoo's tuned PPO MuJoCo entries (hyperparams/ppo.yml, HalfCheetah-v3 / Hopper-v3 / Walker2d-v3), written
    # as derl's flags (SETTINGS below); both libraries run them
    "ppo-halfcheetah-zoo": ("ppo", "HalfCheetah-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    "ppo-hopper-zoo": ("ppo", "Hopper-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    "ppo-walker2d-zoo": ("ppo", "Walker2d-v5", 1_000_000, 5, {"derl": [], "sb3": None}),
    # TD3 (plugin API 3) beside SB3's TD3 at derl's defaults
    "td3-pendulum": ("td3", "Pendulum-v1", 15_000, 5, {"derl": [], "sb3": None}),
    "td3-halfcheetah": ("td3", "HalfCheetah-v5", 100_000, 5, {"derl": [], "sb3": None}),
    # MiniGrid's object/colour/state codes (ImgObsWrapper: a (7, 7, 3) uint8 grid of values 0-10): derl at its
    # classic-family defaults with --image-scale none, and with today's /255 (derl-scaled); SB3 with MiniGrid's
    # documented recipe (its training docs: a 2x2-conv features extractor of 128, normalize_images=False, SB3's
    # PPO defaults) at the same budget
    # TQC (derl-tqc) beside sb3-contrib's TQC at derl's defaults (SAC's per family, 5 x 25 quantiles, 2 dropped)
    "tqc-pendulum": ("tqc", "Pendulum-v1", 15_000, 5, {"derl": [], "sb3": None}),
    "tqc-halfcheetah": ("tqc", "HalfCheetah-v5", 100_000, 5, {"derl": [], "sb3": None}),
    # action masks on MaskedChoice (16 actions, 3 valid per step; derl_core/env/masks.py): derl masked on the strict
    # env (an invalid action would end the run), derl unmasked on the lenient one (an invalid action costs -1);
    # SB3: sb3-contrib's MaskablePPO (masked, strict env) and SB3's DQN (no masks there: the lenient env)
    "ppo-masked": ("ppo", "derl_core.env.masks:MaskedChoice-v0", 30_000, 5,
                   {"derl": [], "derl-unmasked": ["--env-kwargs", '{"strict": false, "masks": false}'], "sb3": None}),
    "dqn-masked": ("dqn", "derl_core.env.masks:MaskedChoice-v0", 30_000, 5,
                   {"derl": [], "derl-unmasked": ["--env-kwargs", '{"strict": false, "masks": false}'], "sb3": None}),
    # CrossQ (derl-crossq) beside sb3-contrib's CrossQ at derl's defaults (its critics 2048-2048, Adam beta1 0.5)
    "crossq-pendulum": ("crossq", "Pendulum-v1", 15_000, 5, {"derl": [], "sb3": None}),
    "crossq-halfcheetah": ("crossq", "HalfCheetah-v5", 100_000, 5, {"derl": [], "sb3": None}),
    # QR-DQN (derl-qrdqn) beside sb3-contrib's QRDQN at derl's classic defaults (rl-zoo's qrdqn.yml CartPole)
    "qrdqn-cartpole": ("qrdqn", "CartPole-v1", 50_000, 5, {"derl": [], "sb3": None}),
    # hindsight experience replay (--her) on derl's goal envs (derl_core/env/goals.py): derl with and without it,
    # SB3 with its HerReplayBuffer at the same settings; and SAC on a dense Dict goal task beside SB3's
    # MultiInputPolicy
    "dqn-bitflip-her": ("dqn", "derl_core.env.goals:BitFlipping-v0", 30_000, 5,
                        {"derl": [], "derl-no-her": ["--her", "false"], "sb3": None}),
    "sac-pointgoal-her": ("sac", "derl_core.env.goals:PointGoalSparse-v0", 15_000, 5,
                          {"derl": [], "derl-no-her": ["--her", "false"], "sb3": None}),
    "sac-pointgoal": ("sac", "derl_core.env.goals:PointGoal-v0", 15_000, 5, {"derl": [], "sb3": None}),
    "ppo-minigrid-empty": ("ppo", "minigrid:MiniGrid-Empty-5x5-v0", 100_000, 3,
                           {"derl": ["--env-wrapper", "minigrid.wrappers:ImgObsWrapper", "--image-scale", "none"],
                            "derl-scaled": ["--env-wrapper", "minigrid.wrappers:ImgObsWrapper"], "sb3": None}),
    "ppo-minigrid-doorkey": ("ppo", "minigrid:MiniGrid-DoorKey-5x5-v0", 200_000, 3,
                             {"derl": ["--env-wrapper", "minigrid.wrappers:ImgObsWrapper", "--image-scale", "none"],
                              "derl-scaled": ["--env-wrapper", "minigrid.wrappers:ImgObsWrapper"], "sb3": None}),
}


# SB3's env keyword arguments where they differ from derl's (SB3's DQN has no masks: the lenient MaskedChoice)
SB3_ENV_KWARGS = {"dqn-masked": {"strict": False, "masks": False}}

# a case's settings beyond its family's defaults: derl gets them as flags, SB3 through the same resolver
sys.path.insert(0, os.path.join(ROOT, "plugins", "derl_ppo"))
from derl_ppo.plugin import PRESETS as PPO_PRESETS, zoo_ppo  # noqa: E402  (no torch: the registering module)

SETTINGS = {
    "ppo-halfcheetah-zoo": PPO_PRESETS["HalfCheetah-v5"],   # derl's PPO preset: rl-zoo's tuned entry
    "ppo-hopper-zoo": zoo_ppo(32, 5, 0.999, 9.80828e-05, 0.00229519, 0.2, 0.99, 0.7, 0.835671),
    "ppo-walker2d-zoo": zoo_ppo(32, 20, 0.99, 5.05041e-05, 0.000585045, 0.1, 0.95, 1.0, 0.871923, tuned_net=False),
    "dqn-bitflip-her": {"her": True},
    "sac-pointgoal-her": {"her": True},
}
# A case's revision is bumped when a derl default it runs changes (and with it SB3's matched settings): the stored
# runs of an older revision stay in the store under their own name, leave the table for its "Superseded" section,
# and the case is run again. A case's revision is 1 + its changes; revision 1 has no suffix in the store.
NO_VALUE_CLIP = "MuJoCo PPO without value clipping (bench/results/ablation-ppo-hopper.md)"
SB3_LIFE_STARTS = ("derl's EnvPool Atari stack starts lives as SB3's AtariWrapper does (bench/results/"
                   "ablation-ppo-breakout.md, sb3-life-starts); derl-gymnasium and SB3 are unchanged")
CHANGES = {"ppo-hopper": [NO_VALUE_CLIP], "ppo-halfcheetah": [NO_VALUE_CLIP], "ppo-walker2d": [NO_VALUE_CLIP],
           "ppo-breakout": [SB3_LIFE_STARTS]}
MUJOCO = ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5")
EVALS, EVAL_EPISODES = 20, 10   # evaluations per run (every 5%), episodes each
# random and reference returns for the normalised aggregate: random from a uniform-random policy (published in
# the DQN/rliable literature for Atari; measured for the others), reference = rl-zoo's published return
RANDOM = {"derl_core.env.masks:MaskedChoice-v0": 0.0, "derl_core.env.goals:BitFlipping-v0": -8.0, "derl_core.env.goals:PointGoalSparse-v0": -50.0,
          "derl_core.env.goals:PointGoal-v0": -45.0, "Pendulum-v1": -1200.0, "minigrid:MiniGrid-Empty-5x5-v0": 0.0, "minigrid:MiniGrid-DoorKey-5x5-v0": 0.0, "CartPole-v1": 22.0, "Acrobot-v1": -500.0, "Hopper-v5": 18.0, "HalfCheetah-v5": -280.0,
          "Walker2d-v5": 1.6, "BreakoutNoFrameskip-v4": 1.7}
REFERENCE = {"dqn-cartpole": 500.0, "dqn-acrobot": -76.0, "a2c-cartpole": 500.0, "sac-hopper": 2326.0,
             "sac-halfcheetah": 9535.0, "ppo-hopper": 2410.0, "ppo-halfcheetah": 5819.0, "ppo-walker2d": 3479.0,
             "ppo-breakout": 398.0, "ppo-halfcheetah-zoo": 5819.0, "ppo-hopper-zoo": 2410.0,
             "ppo-walker2d-zoo": 3479.0, "ppo-minigrid-empty": 1.0, "ppo-minigrid-doorkey": 1.0, "td3-pendulum": -150.0,
             "td3-halfcheetah": 9709.0, "qrdqn-cartpole": 500.0, "crossq-pendulum": -150.0, "crossq-halfcheetah": 9535.0, "ppo-masked": 20.0, "dqn-masked": 20.0, "tqc-pendulum": -150.0,
             "tqc-halfcheetah": 9535.0, "dqn-bitflip-her": -3.0, "sac-pointgoal-her": -10.0,
             "sac-pointgoal": -8.0}
# published 1M-step returns beside the MuJoCo rows (../shared/reference/anchors.md)
ANCHORS = {"ppo-hopper": {"CleanRL": 2383, "rl-zoo": 2410}, "ppo-halfcheetah": {"CleanRL": 1443, "rl-zoo": 5819},
           "ppo-walker2d": {"CleanRL": 2288, "rl-zoo": 3479}, "sac-hopper": {"CleanRL (1M)": 2311, "rl-zoo (1M)": 2326},
           "sac-halfcheetah": {"CleanRL (1M)": 9635, "rl-zoo (1M)": 9535},
           "ppo-halfcheetah-zoo": {"rl-zoo": 5819}, "ppo-hopper-zoo": {"rl-zoo": 2410},
           "ppo-walker2d-zoo": {"rl-zoo": 3479}}
SMOKE = float(os.environ.get("DERL_LEARNING_SMOKE") or 0)   # --smoke: every budget scaled, 2 seeds, elsewhere
if SMOKE:
    RESULTS = STORE = os.environ["DERL_LEARNING_STORE"]
    for _case, (_alg, _env, _steps, _, _libs) in list(CASES.items()):
        CASES[_case] = (_alg, _env, max(EVALS * 64, int(_steps * SMOKE)), 2, _libs)
    EVAL_EPISODES = 2   # a smoke run tests the script; full-length evaluations would dominate its time
MISMATCHES = [
    "PPO value clipping, where it is on (Atari, PyBullet): derl takes max(unclipped, clipped) squared errors "
    "(CleanRL); SB3 clips the prediction and takes its squared error only. Off on MuJoCo (revision 2) in both.",
    "SAC's tanh log-probability: derl uses the exact form log(1 - tanh(u)^2) = 2(log 2 - u - softplus(-2u)); SB3 "
    "log(1 - tanh(u)^2 + 1e-6).",
    "SAC: derl updates critic, actor, temperature on the same batch in that order; SB3 updates the temperature "
    "first (its order cannot be changed by a flag).",
    "DQN: SB3 has no n-step returns, dueling head or prioritized replay (derl's defaults on the classic family "
    "are matched by switching them off in derl's SB3 counterpart only where derl's default is off); a derl "
    "extension that is on by default has no SB3 counterpart and is part of the comparison.",
    "Atari training: none left. derl's EnvPool stack starts games and lives as SB3's AtariWrapper does (1-30 no-op "
    "frames at a game's start; FIRE, RIGHT after it; NOOP, FIRE, RIGHT after a lost life) and steps exactly as "
    "derl's gymnasium stack (tests/test_envpool.py); only the no-op counts are drawn from other generators. Atari "
    "evaluation: SB3's make_atari_env keeps terminal_on_life_loss, so its eval env ends an internal episode at "
    "each lost life (no-op step, FIRE) and VecFrameStack restarts its frames there, while evaluate_policy scores "
    "whole games through Monitor; derl's eval env presses FIRE after a lost life and keeps its frames "
    "(bench/ablation.py --case ppo-breakout, variant sb3-eval, evaluates derl's own training SB3's way).",
    "Observation normalisation: derl's running mean/std wrapper vs SB3's VecNormalize (both clip at 10; the "
    "reward scaling by the discounted-return std in both).",
    "Networks: the same widths and activations (a shared 64-64 tanh torso where derl shares it); initialisations follow each library's own (both orthogonal for "
    "PPO/A2C; PyTorch default for SAC/DQN).",
]


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "derl_core", "plugins",
                            "bench/learning.py"], cwd=ROOT, capture_output=True, text=True).stdout.strip()   # what runs
    return out.stdout.strip() + ("+dirty" if dirty else "")


def revision(case: str) -> int:
    return 1 + len(CHANGES.get(case, []))


def stored(case: str, lib: str, seed: int, rev: int | None = None) -> str:
    """Where a run is stored: by case, library, seed and the case's revision (the current one unless told)."""
    rev = revision(case) if rev is None else rev
    return os.path.join(STORE, f"{case}__{lib}__seed{seed}{'' if rev == 1 else f'__r{rev}'}.json")


def resolved(case: str) -> dict:
    """derl's resolved hyperparameters for the case (its family's defaults, the case's budget)."""
    sys.path.insert(0, ROOT)
    from derl_core import config as cfg
    from derl_core.plugins import registry
    alg, env_id, steps, _, _ = CASES[case]
    reg = registry()
    spec = reg.algorithm(alg)
    overrides = {name: str(value) for name, value in SETTINGS.get(case, {}).items()}
    return cfg.resolve(spec, reg.defaults_chain(reg.family_for(env_id).name), dict(overrides, total_steps=str(steps)))


# ------------------------------------------------------------------------------------------------ SB3 side
def sb3_model(case: str, seed: int):
    """SB3 built from derl's resolved defaults for the case; returns (model, eval env)."""
    from stable_baselines3 import A2C, DQN, PPO, SAC
    from stable_baselines3.common.env_util import make_atari_env, make_vec_env
    from stable_baselines3.common.utils import LinearSchedule

    def get_linear_fn(start, end, fraction):
        return LinearSchedule(start, end, fraction)
    from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize
    alg, env_id, steps, _, _ = CASES[case]
    if env_id.startswith("minigrid:"):
        return sb3_minigrid(env_id.partition(":")[2], seed)
    h = resolved(case)
    lr = get_linear_fn(h["learning_rate"], 0, 1) if h.get("anneal_lr") else h["learning_rate"]
    atari = "NoFrameskip" in env_id
    if atari:
        import ale_py
        import gymnasium as gym
        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env(env_id, n_envs=h["num_envs"], seed=seed), 4)
        eval_env = VecFrameStack(make_atari_env(env_id, n_envs=1, seed=seed + 20_000), 4)
    else:
        kwargs = SB3_ENV_KWARGS.get(case)
        env = make_vec_env(env_id, n_envs=h.get("num_envs", 1), seed=seed, env_kwargs=kwargs)
        eval_env = make_vec_env(env_id, n_envs=1, seed=seed + 20_000, env_kwargs=kwargs)
        if h["normalize_obs"] or h["normalize_reward"]:   # derl's switches (on for the mujoco family's PPO/A2C)
            env = VecNormalize(env, norm_obs=h["normalize_obs"], norm_reward=h["normalize_reward"],
                               clip_obs=h["clip_obs"], clip_reward=h["clip_reward"], gamma=h["gamma"])
            eval_env = VecNormalize(eval_env, training=False, norm_obs=h["normalize_obs"], norm_reward=False,
                                    clip_obs=h["clip_obs"])
    common = dict(seed=seed, device="cpu", verbose=0)
    policy = "MultiInputPolicy" if hasattr(env.observation_space, "spaces") else "MlpPolicy"   # Dict: goal envs
    if h.get("her"):   # derl's --her: SB3's HerReplayBuffer with the same goals per transition and strategy
        from stable_baselines3 import HerReplayBuffer
        common.update(replay_buffer_class=HerReplayBuffer,
                      replay_buffer_kwargs={"n_sampled_goal": h["her_goals"],
                                            "goal_selection_strategy": h["her_strategy"]})
    kwargs = {} if atari else {"policy_kwargs": ac_net(h.get("shared_torso", False), h)}
    if alg == "ppo":
        clip = get_linear_fn(h["clip_range"], 0, 1) if h["anneal_clip_range"] else h["clip_range"]
        batch = h["nsteps"] * h["num_envs"] // h["num_minibatches"]
        algo = PPO
        if case.endswith("-masked"):   # sb3-contrib's MaskablePPO reads the env's action_masks()
            from sb3_contrib import MaskablePPO as algo
            kwargs["policy_kwargs"].pop("log_std_init", None)   # a Gaussian's option: its policy has none
        return algo("CnnPolicy" if atari else "MlpPolicy", env, n_steps=h["nsteps"], batch_size=batch,
                   n_epochs=h["num_epochs"], learning_rate=lr, gamma=h["gamma"], gae_lambda=h["gae_lambda"],
                   clip_range=clip, clip_range_vf=h["clip_range"] if h["clip_value_loss"] else None,
                   ent_coef=h["entropy_coef"], vf_coef=h["value_coef"] / 2, max_grad_norm=h["max_grad_norm"],
                   normalize_advantage=h["normalize_advantages"], **kwargs, **common), eval_env
    if alg == "a2c":
        return A2C("MlpPolicy", env, n_steps=h["nsteps"], learning_rate=lr, gamma=h["gamma"],
                   gae_lambda=h["gae_lambda"], ent_coef=h["entropy_coef"], vf_coef=h["value_coef"],
                   max_grad_norm=h["max_grad_norm"], rms_prop_eps=h["rmsprop_eps"], use_rms_prop=True,
                   normalize_advantage=h["normalize_advantages"], **kwargs, **common), eval_env
    if alg == "crossq":
        from sb3_contrib import CrossQ
        from derl_core.model_options import mlp_sizes as sizes
        actor, critic = sizes(h)
        return CrossQ(policy, env, learning_rate=h["learning_rate"], buffer_size=h["buffer_size"],
                      learning_starts=h["learning_starts"], batch_size=h["batch_size"], gamma=h["gamma"],
                      train_freq=h["train_every"], gradient_steps=h["gradient_steps"], policy_delay=h["policy_delay"],
                      ent_coef=f"auto_{h['initial_alpha']}" if h["autotune_alpha"] else h["initial_alpha"],
                      policy_kwargs={"net_arch": {"pi": list(actor), "qf": list(critic)},
                                     "batch_norm_momentum": h["bn_momentum"],
                                     "renorm_warmup_steps": h["renorm_warmup"],
                                     "optimizer_kwargs": {"betas": (h["adam_beta1"], 0.999)}}, **common), eval_env
    if alg == "tqc":
        from sb3_contrib import TQC
        return TQC(policy, env, learning_rate=h["learning_rate"], buffer_size=h["buffer_size"],
                   learning_starts=h["learning_starts"], batch_size=h["batch_size"], tau=h["tau"], gamma=h["gamma"],
                   train_freq=h["train_every"], gradient_steps=h["gradient_steps"],
                   ent_coef=f"auto_{h['initial_alpha']}" if h["autotune_alpha"] else h["initial_alpha"],
                   top_quantiles_to_drop_per_net=h["top_quantiles_to_drop"],
                   policy_kwargs={"net_arch": mlp_sizes(h), "n_critics": h["n_critics"],
                                  "n_quantiles": h["n_quantiles"]}, **common), eval_env
    if alg == "sac":
        return SAC(policy, env, learning_rate=h["learning_rate"], buffer_size=h["buffer_size"],
                   learning_starts=h["learning_starts"], batch_size=h["batch_size"], tau=h["tau"], gamma=h["gamma"],
                   train_freq=h["train_every"], gradient_steps=h["gradient_steps"],
                   ent_coef=f"auto_{h['initial_alpha']}" if h["autotune_alpha"] else h["initial_alpha"],
                   policy_kwargs={"net_arch": mlp_sizes(h)}, **common), eval_env
    if alg == "td3":
        from stable_baselines3 import TD3
        from stable_baselines3.common.noise import NormalActionNoise
        dim = env.action_space.shape[0]
        return TD3(policy, env, learning_rate=h["learning_rate"], buffer_size=h["buffer_size"],
                   learning_starts=h["learning_starts"], batch_size=h["batch_size"], tau=h["tau"], gamma=h["gamma"],
                   train_freq=h["train_every"], gradient_steps=h["gradient_steps"], policy_delay=h["policy_delay"],
                   target_policy_noise=h["policy_noise"], target_noise_clip=h["noise_clip"],
                   action_noise=NormalActionNoise(np.zeros(dim), h["exploration_noise"] * np.ones(dim)),
                   policy_kwargs={"net_arch": mlp_sizes(h), "n_critics": 2 if h["twin"] else 1}, **common), eval_env
    if alg in ("dqn", "qrdqn"):
        extra, algo = {}, DQN
        if alg == "qrdqn":   # sb3-contrib's; its policy has no dueling head (derl's QR-DQN neither)
            from sb3_contrib import QRDQN
            extra, algo = {"n_quantiles": h["n_quantiles"]}, QRDQN
        return algo(policy, env, learning_rate=lr, buffer_size=h["buffer_size"],
                   learning_starts=h["learning_starts"], batch_size=h["batch_size"], gamma=h["gamma"],
                   train_freq=h["train_every"], gradient_steps=h["gradient_steps"],
                   target_update_interval=h["target_update_interval"] * h["train_every"] // max(1, h["gradient_steps"]),
                   exploration_fraction=h["epsilon_steps"] / steps, exploration_initial_eps=h["epsilon_start"],
                   exploration_final_eps=h["epsilon_end"], max_grad_norm=h["max_grad_norm"],
                   policy_kwargs={"net_arch": mlp_sizes(h), "optimizer_kwargs": {"eps": h["adam_eps"]}, **extra},
                   **common), eval_env
    raise KeyError(alg)


def sb3_minigrid(env_id: str, seed: int):
    """MiniGrid's documented SB3 recipe (minigrid.farama.org, "Training Minigrid Environments"): ImgObsWrapper,
    PPO("CnnPolicy") with SB3's defaults and a small features extractor; images not divided by 255."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the envs)
    from minigrid.wrappers import ImgObsWrapper
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn
    import torch

    class MinigridFeaturesExtractor(BaseFeaturesExtractor):
        def __init__(self, observation_space, features_dim: int = 128):
            super().__init__(observation_space, features_dim)
            channels = observation_space.shape[0]
            self.cnn = nn.Sequential(nn.Conv2d(channels, 16, 2), nn.ReLU(), nn.Conv2d(16, 32, 2), nn.ReLU(),
                                     nn.Conv2d(32, 64, 2), nn.ReLU(), nn.Flatten())
            with torch.no_grad():
                n = self.cnn(torch.as_tensor(observation_space.sample()[None]).float()).shape[1]
            self.linear = nn.Sequential(nn.Linear(n, features_dim), nn.ReLU())

        def forward(self, obs):
            return self.linear(self.cnn(obs))

    make = (lambda: ImgObsWrapper(gym.make(env_id)))
    env = make_vec_env(make, n_envs=1, seed=seed)
    eval_env = make_vec_env(make, n_envs=1, seed=seed + 20_000)
    kwargs = dict(features_extractor_class=MinigridFeaturesExtractor, features_extractor_kwargs={"features_dim": 128},
                  normalize_images=False)
    return PPO("CnnPolicy", env, policy_kwargs=kwargs, seed=seed, device="cpu", verbose=0), eval_env


def mlp_sizes(h: dict) -> list:
    """SAC's, TD3's and DQN's --net-arch as SB3's net_arch (the Q networks' and the actor's hidden sizes)."""
    from derl_core.model_options import mlp_sizes as sizes
    return list(sizes(h)[0])


def ac_net(shared: bool, h: dict | None = None) -> dict:
    """derl's actor-critic MLP: one torso for both heads (shared_torso) or one each, with the case's model
    options (--net-arch, --critic-arch, --activation, --ortho-init, --log-std-init; by default 64-64 tanh)."""
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from torch import nn
    h = h or {}
    if not shared:
        from derl_core.model_options import mlp_sizes as sizes
        pi, vf = map(list, sizes(h))
        out = {"net_arch": dict(pi=pi, vf=vf),
               "activation_fn": {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU,
                                 "silu": nn.SiLU}[h.get("activation", "tanh")]}
        if "log_std_init" in h:   # PPO and A2C (the actor-critics this builds for)
            out.update(ortho_init=h["ortho_init"], log_std_init=h["log_std_init"])
        return out

    class Torso(BaseFeaturesExtractor):
        def __init__(self, space):
            super().__init__(space, 64)
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(space.shape)), 64), nn.Tanh(),
                                      nn.Linear(64, 64), nn.Tanh())

        def forward(self, obs):
            return self.body(obs)
    return {"features_extractor_class": Torso, "share_features_extractor": True, "net_arch": dict(pi=[], vf=[])}


def sb3_child(case: str, seed: int, out: str):
    """Trains SB3 with evaluations every 5% of training; writes the result JSON to `out`."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize, sync_envs_normalization
    torch.set_num_threads(1)
    _, _, steps, _, _ = CASES[case]
    model, eval_env = sb3_model(case, seed)
    every = steps // EVALS
    evals, train = [], []

    class Evaluate(BaseCallback):
        def _on_step(self):
            for info in self.locals["infos"]:
                if "episode" in info:
                    train.append((self.num_timesteps, float(info["episode"]["r"])))
            if self.num_timesteps // every > len(evals):
                if isinstance(eval_env, VecNormalize):   # (Atari: PPO put a VecTransposeImage on the training env
                    sync_envs_normalization(self.training_env, eval_env)   # only, which sync would refuse)
                evaluate = evaluate_policy
                if case.endswith("-masked") and type(self.model).__name__ == "MaskablePPO":
                    from sb3_contrib.common.maskable.evaluation import evaluate_policy as evaluate
                mean, _ = evaluate(self.model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True)
                evals.append((self.num_timesteps, float(mean)))
            return True
    start = time.time()
    model.learn(total_timesteps=steps, callback=Evaluate())
    with open(out, "w") as f:
        json.dump({"evals": evals, "train": train, "seconds": time.time() - start}, f)


# ------------------------------------------------------------------------------------------------ one run
def launch(case: str, lib: str, seed: int, workdir: str):
    alg, env_id, steps, _, libs = CASES[case]
    if lib == "sb3":
        out = os.path.join(workdir, f"{case}__{lib}__{seed}.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", case, str(seed), out]
    else:
        out = os.path.join(workdir, f"{case}__{lib}__{seed}")
        cmd = [DERL, *derl_argv(case, seed, out), *libs[lib]]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    return proc, out


def derl_argv(case: str, seed: int, out: str) -> list:
    """derl's arguments for one run of `case`: its budget, its SETTINGS as flags, one torch thread, the
    benchmark's evaluations."""
    alg, env_id, steps, _, _ = CASES[case]
    flags = [part for name, value in SETTINGS.get(case, {}).items()
             for part in ("--" + name.replace("_", "-"), str(value).lower() if isinstance(value, bool) else str(value))]
    return [alg, "--env-id", env_id, "--total-steps", str(steps), "--seed", str(seed), "--threads", "1",
            "--eval-every", str(steps // EVALS), "--eval-episodes", str(EVAL_EPISODES), "--logdir", out,
            "--preset", "none", *flags]   # the family defaults (SB3 is matched to them), then the case's SETTINGS


def derl_curves(out: str) -> tuple:
    """(evals, train): a derl run's (step, eval return) and (step, training episode return) from metrics.jsonl."""
    rows = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl")) if line.strip()]
    return ([(r["step"], r["charts/eval_return"]) for r in rows if "charts/eval_return" in r],
            [(r["step"], r["charts/episodic_return"]) for r in rows if "charts/episodic_return" in r])


def score_of(evals: list, steps: int) -> float:
    """A run's score: the mean of its evaluations in the last 10% of training."""
    last = [v for s, v in evals if s >= 0.9 * steps]
    return float(np.mean(last)) if last else float("nan")


def run_all(todo: list, launch, finish, parallel: int, max_minutes):
    """Run `todo`'s items, `parallel` at a time: launch(*item) -> (proc, out); when one ends,
    finish(*item, proc, out, started, commit). No launch after `max_minutes`; Ctrl-C or a SIGTERM
    kills the runs in flight (none is left running)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))   # unwinds to the finally below
    workdir = tempfile.mkdtemp(prefix="derl-learning-")
    began, running = time.time(), []
    try:
        while todo or running:
            late = max_minutes is not None and time.time() - began > 60 * max_minutes
            while todo and not late and len(running) < parallel:
                item = todo.pop(0)
                running.append((item, *launch(*item, workdir), time.time(), commit()))   # the code it runs
            if late and not running:
                break
            time.sleep(2)
            for entry in [r for r in running if r[1].poll() is not None]:
                running.remove(entry)
                finish(*entry[0], *entry[1:])
    finally:
        for entry in running:
            entry[1].kill()
        shutil.rmtree(workdir, ignore_errors=True)


def store_json(path: str, obj) -> None:
    """Write a finished run's record whole or not at all (an interrupted write never leaves a half file)."""
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def smoke_reexec(smoke: float, prefix: str) -> None:
    """--smoke: become this same command with every budget scaled and the store in a fresh temporary folder
    (execve, not a child process, so a signal reaches the run pool)."""
    env = dict(os.environ, DERL_LEARNING_SMOKE=str(smoke), DERL_LEARNING_STORE=tempfile.mkdtemp(prefix=prefix))
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def finish(case: str, lib: str, seed: int, proc, out: str, started: float, code: str):
    _, err = proc.communicate()
    if proc.returncode != 0:
        print(f"{case} {lib} seed {seed} failed ({proc.returncode}): {err.strip()[-500:]}", file=sys.stderr, flush=True)
        return
    _, _, steps, _, _ = CASES[case]
    if lib == "sb3":
        data = json.load(open(out))
        evals, train = data["evals"], data["train"]
    else:
        evals, train = derl_curves(out)
    result = {"case": case, "library": lib, "seed": seed, "steps": steps, "commit": code, "revision": revision(case),
              "score": score_of(evals, steps), "evals": evals,
              "train": thin(train, TRAIN_POINTS), "seconds": round(time.time() - started, 1),
              "date": time.strftime("%Y-%m-%d %H:%M")}
    store_json(stored(case, lib, seed), result)
    print(f"{case} {lib} seed {seed}: score {result['score']:.1f} ({result['seconds']:.0f} s)", flush=True)


TRAIN_POINTS = 400   # training episodes a stored run keeps, evenly spaced


def score_text(x: float) -> str:
    """A score for a table cell: whole numbers from 100 up, one decimal below (Breakout's scores are ~20)."""
    return f"{x:.{0 if abs(x) >= 100 else 1}f}"


def thin(points: list, n: int) -> list:
    if len(points) <= n:
        return points
    k = len(points) / n
    return [points[int(i * k)] for i in range(n)]


# ------------------------------------------------------------------------------------------------ statistics
def load(case: str, lib: str, rev: int | None = None) -> list:
    """The stored runs of a case and library at a revision (the case's current one unless told)."""
    _, _, _, seeds, _ = CASES[case]
    return [json.load(open(stored(case, lib, s, rev))) for s in range(seeds) if os.path.exists(stored(case, lib, s, rev))]


def bootstrap(data, statistic, reps: int = 2000) -> tuple:
    """(point, lo, hi): a statistic with rliable's 95% stratified-bootstrap interval. rliable draws from numpy's
    global generator, so it is seeded here, per draw: an interval depends on its own runs only, not on which
    other cases happen to be stored or in what order they were drawn."""
    from rliable import library as rly
    np.random.seed(0)
    point, ci = rly.get_interval_estimates({"x": data}, statistic, reps=reps)
    return float(np.ravel(point["x"])[0]), float(np.ravel(ci["x"][0])[0]), float(np.ravel(ci["x"][1])[0])


def iqm_ci(scores: np.ndarray) -> tuple:
    """IQM of runs x tasks scores with its 95% stratified-bootstrap interval."""
    from rliable import metrics
    return bootstrap(scores, lambda x: np.array([metrics.aggregate_iqm(x)]))


def improvement(a: np.ndarray, b: np.ndarray) -> tuple:
    """P(a run of a beats a run of b) with its 95% stratified-bootstrap interval."""
    from rliable import metrics
    return bootstrap((a, b), metrics.probability_of_improvement)


def finished_improvement(a: np.ndarray, b: np.ndarray, seeds: int):
    """improvement(a, b) once both sides have all `seeds` runs, else None: two runs a side would call a gap
    from two seeds (learning.md's verdicts and the ablation tables both go through here)."""
    return improvement(a, b) if len(a) == seeds and len(b) == seeds else None


def published(case: str) -> str:
    """The published 1M-step returns for a case's table row, or ''."""
    return ", ".join(f"{k} {v}" for k, v in ANCHORS.get(case, {}).items())


def case_stats() -> dict:
    """Every case's statistics, drawn once: {case: {lib: (runs, scores, iqm, prob)}}. scores is runs x 1; iqm
    is (point, lo, hi); prob is P(lib > SB3) with its interval, or None. learning.md and the README rows are both
    formatted from this, so one invocation prints one interval per case."""
    stats = {}
    for case, (_, _, _, seeds, libs) in CASES.items():
        found = {lib: load(case, lib) for lib in libs}
        sb3 = np.array([[r["score"] for r in found.get("sb3", [])]]).T
        stats[case] = {}
        for lib, runs in found.items():
            if not runs:
                continue
            x = np.array([[r["score"] for r in runs]]).T
            iqm = iqm_ci(x)
            prob = finished_improvement(x, sb3, seeds) if lib != "sb3" else None
            stats[case][lib] = (runs, x, iqm, prob)
    return stats


def verdict_of(prob: tuple) -> str:
    return "ahead" if prob[1] > 0.5 else "behind" if prob[2] < 0.5 else "level"


def table(stats: dict) -> str:
    lines = ["# Learning: derl beside Stable-Baselines3, seeds and intervals", "",
             f"Score of a run: the mean of its deterministic evaluations ({EVAL_EPISODES} episodes on a separate env, "
             f"every 5% of training; SB3 through `evaluate_policy`) in the last 10% of training. Per case: the IQM "
             "over seeds with a 95% stratified-bootstrap interval and P(derl > SB3) with its interval (rliable). "
             "Verdict: ahead / behind when that interval lies above / below 0.5, else level. Runs: two at a time on "
             "2 cores, one torch thread each.", "",
             "| case | env | steps | library | seeds | IQM [95% CI] | P(derl > SB3) [95% CI] | verdict | published "
             "1M | commits |", "|-|-|-|-|-|-|-|-|-|-|"]
    normalised = {}
    for case, (alg, env_id, steps, seeds, libs) in CASES.items():
        if not stats[case]:
            lines.append(f"| {case} | {env_id} | {steps} | - | 0/{seeds} | not run yet | | | {published(case)} | |")
            continue
        for lib in libs:
            if lib not in stats[case]:
                lines.append(f"| {case} | {env_id} | {steps} | {lib} | 0/{seeds} | not run yet | | | | |")
                continue
            runs, x, (point, lo, hi), prob = stats[case][lib]
            shown = f"{prob[0]:.2f} [{prob[1]:.2f}, {prob[2]:.2f}]" if prob else ""
            verdict = verdict_of(prob) if prob else ""
            anchor = published(case) if lib == next(iter(libs)) else ""   # beside derl's row, the one it is compared with
            commits = ", ".join(sorted({r["commit"] for r in runs}))
            lines.append(f"| {case} | {env_id} | {steps} | {lib} | {len(x)}/{seeds} | {point:.1f} [{lo:.1f}, "
                         f"{hi:.1f}] | {shown} | {verdict} | {anchor} | {commits} |")
            if len(x) == seeds:
                ref, rnd = REFERENCE[case], RANDOM[env_id]
                # derl's first variant (Breakout: EnvPool, its default backend) stands for derl in the aggregate
                normalised.setdefault(lib.split("-")[0], {}).setdefault(case, (x[:, 0] - rnd) / (ref - rnd))
    both = sorted(set(normalised.get("derl", {})) & set(normalised.get("sb3", {})))
    lines += ["", "## Aggregate", ""]
    if both:
        n = min(len(normalised[lib][c]) for lib in ("derl", "sb3") for c in both)
        lines.append(f"Over the {len(both)} finished case(s) ({', '.join(both)}), scores normalised by (score - random)"
                     f" / (reference - random), reference = rl-zoo's published return, {n} runs each:")
        lines.append("")
        derl_m = np.stack([normalised["derl"][c][:n] for c in both], 1)
        sb3_m = np.stack([normalised["sb3"][c][:n] for c in both], 1)
        for lib, m in (("derl", derl_m), ("sb3", sb3_m)):
            point, lo, hi = iqm_ci(m)
            lines.append(f"* {lib}: normalised IQM {point:.3f} [{lo:.3f}, {hi:.3f}]")
        p, plo, phi = improvement(derl_m, sb3_m)
        lines.append(f"* P(derl > SB3) averaged over cases: {p:.2f} [{plo:.2f}, {phi:.2f}]")
    else:
        lines.append("No case has all its seeds for both libraries yet.")
    lines += stacks(stats)
    lines += training_returns(stats)
    lines += adopted(stats)
    lines += superseded()
    lines += ["", "## What the settings cannot match", ""] + [f"* {m}" for m in MISMATCHES]
    lines += ["", "Curves: " + ", ".join(f"[{c}](learning-{c}.png)" for c in CASES
                                         if os.path.exists(os.path.join(RESULTS, f"learning-{c}.png")))]
    return "\n".join(lines) + "\n"


def section(title: str, intro: str, columns: list, rows: list) -> list:
    """A markdown section of the tables: its heading, a sentence on what it holds and its table; none without
    rows (learning.md's and the ablation tables' optional sections)."""
    if not rows:
        return []
    return ["", f"## {title}", "", intro, "", "| " + " | ".join(columns) + " |", "|" + "-|" * len(columns), *rows]


def stacks(stats: dict) -> list:
    """derl against derl where a case runs it on two env stacks (Breakout: EnvPool, its default, and gymnasium,
    SB3's stack): P(the other stack > the default's), once both have all their seeds. The algorithm, its flags
    and the seeds are the same, so an interval off 0.5 puts a gap with SB3 in the stack, not in the algorithm."""
    rows = []
    for case, (alg, env_id, steps, seeds, libs) in CASES.items():
        derls = [lib for lib in libs if lib.startswith("derl-") and lib in stats[case]]
        for other in derls[1:]:
            p = finished_improvement(stats[case][other][1], stats[case][derls[0]][1], seeds)
            if p:
                rows.append(f"| {case} | {other} | {derls[0]} | {seeds} | {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}] | "
                            f"{verdict_of(p)} |")
    return section("derl on two env stacks", "The same algorithm, flags and seeds on the case's two env stacks: "
                   "P(a run on the first > a run on the second), stratified-bootstrap 95% interval (rliable).",
                   ["case", "stack", "against", "seeds", "P [95% CI]", "verdict"], rows)


def train_score(run: dict, steps: int) -> float | None:
    """A run's secondary number: the mean return of its training episodes that ended in the last 10% of training
    (whole games on Atari), or None without a training curve."""
    last = [v for s, v in run.get("train", []) if s >= 0.9 * steps]
    return float(np.mean(last)) if last else None


def training_returns(stats: dict) -> list:
    """The table's secondary section: the same IQM over each run's late training returns, not a verdict (the
    metric is the evaluation above); it separates what a policy learned from how the two libraries evaluate it."""
    rows = []
    for case, libs in stats.items():
        steps = CASES[case][2]
        for lib, (runs, *_) in libs.items():
            x = [t for t in (train_score(r, steps) for r in runs) if t is not None]
            if x:
                point, lo, hi = iqm_ci(np.array([x]).T)
                per_seed = ", ".join(score_text(t) for t in x)
                rows.append(f"| {case} | {lib} | {len(x)} | {point:.1f} [{lo:.1f}, {hi:.1f}] | {per_seed} |")
    return section("Training returns (secondary)", "The mean return of each run's training episodes that ended in "
                   "the last 10% of training (stochastic actions, the training env's wrappers; whole games on "
                   "Atari): not the score and no verdict, but where it and the score disagree, the difference is in "
                   "the evaluation, not in what was learned. Runs taken from an ablation before ablations kept "
                   "training curves are left out.", ["case", "library", "runs", "IQM [95% CI]", "per run"], rows)


def adopted(stats: dict) -> list:
    """The table's note on runs it took from another store (a record with a "source"): an ablation variant whose
    code and flags are exactly a case's current revision, run before the revision existed, or a run of the
    previous revision of a library the revision did not change."""
    rows = [f"* {case} {lib} seed {r['seed']}: {r['source']} (commit {r['commit']}"
            f"{'' if r.get('train') else '; no training curve'})"
            for case, libs in stats.items() for lib, (runs, *_) in libs.items() for r in runs if r.get("source")]
    if not rows:
        return []
    return ["", "## Runs taken from elsewhere", "", "Their code and flags are the case's current revision. From an "
            "ablation: the revision made the ablation's variant the default, and nothing else that training runs "
            "changed between (derl's seeded CPU runs are deterministic: ppo-hopper's revision-2 seeds 0 and 1 "
            "reproduced the ablation's to the last digit of every evaluation). From the previous revision: the "
            "revision changed another library's code only.", "", *rows]


def superseded() -> list:
    """The table's section on the runs of older revisions: what changed since, and their IQMs then."""
    rows = []
    for case, changes in CHANGES.items():
        for old, change in enumerate(changes, 1):
            for lib in CASES[case][4]:
                carried = {r.get("source") for r in load(case, lib, old + 1)}   # unchanged: in the table still
                runs = [r for r in load(case, lib, old)
                        if os.path.relpath(stored(case, lib, r["seed"], old), ROOT) not in carried]
                if runs:
                    point, lo, hi = iqm_ci(np.array([[r["score"]] for r in runs]))
                    commits = ", ".join(sorted({r["commit"] for r in runs}))
                    per_seed = ", ".join(f"{r['score']:.0f}" for r in runs)
                    rows.append(f"| {case} | {old} | {lib} | {len(runs)} | {point:.1f} [{lo:.1f}, {hi:.1f}] | "
                                f"{per_seed} | {change} | {commits} |")
    return section("Superseded runs", "Runs of an older revision of the case's settings: kept, out of the table "
                   "and the aggregate above; `make bench-learning` runs the case again at its current revision.",
                   ["case", "revision", "library", "seeds", "IQM [95% CI]", "per seed", "changed in the next revision",
                    "commits"], rows)


def readme_rows(stats: dict) -> str:
    """The README's compact rows: cases with both libraries, the same numbers as learning.md."""
    rows = []
    for case, (alg, env_id, steps, seeds, libs) in CASES.items():
        if "sb3" not in stats[case]:
            continue
        _, sb3, (s_point, s_lo, s_hi), _ = stats[case]["sb3"]
        for lib, (_, x, (point, lo, hi), prob) in stats[case].items():
            if prob is None:
                continue
            rows.append(f"| {case}{'' if lib == 'derl' else ' (' + lib + ')'} | {steps // 1000}k | {point:.1f} "
                        f"[{lo:.1f}, {hi:.1f}] | {s_point:.1f} [{s_lo:.1f}, {s_hi:.1f}] | {prob[0]:.2f} "
                        f"[{prob[1]:.2f}, {prob[2]:.2f}] | {verdict_of(prob)} | {len(x)} / {len(sb3)} |")
    return "\n".join(rows)


def seeds_word(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def plot(case: str):
    """Eval mean with a 95% percentile-bootstrap band over seeds (left) and training returns (right)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    _, env_id, steps, _, libs = CASES[case]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    rng = np.random.default_rng(0)
    drawn = False
    for rev in range(revision(case), 0, -1):   # the newest revision with runs (a superseded one says so in the title)
        found = {lib: load(case, lib, rev) for lib in libs}
        if any(found.values()):
            break
    for lib, runs in found.items():
        if not runs:
            continue
        drawn = True
        grid = np.linspace(0, steps, EVALS + 1)[1:]
        ev = np.array([np.interp(grid, [s for s, _ in r["evals"]], [v for _, v in r["evals"]]) for r in runs])
        boots = np.array([ev[rng.integers(0, len(ev), len(ev))].mean(0) for _ in range(1000)])
        line, = ax1.plot(grid, ev.mean(0), label=f"{lib} ({seeds_word(len(runs))})")
        ax1.fill_between(grid, np.percentile(boots, 2.5, 0), np.percentile(boots, 97.5, 0), alpha=0.2,
                         color=line.get_color())
        fine = np.linspace(0, steps, 100)
        tr = np.array([np.interp(fine, [s for s, _ in r["train"]], [v for _, v in r["train"]]) for r in runs
                       if r["train"]])
        if len(tr):
            # its own seed count: runs taken from an early ablation have no training curve
            ax2.plot(fine, tr.mean(0), color=line.get_color(), label=f"{lib} ({seeds_word(len(tr))})")
            ax2.fill_between(fine, tr.min(0), tr.max(0), alpha=0.15, color=line.get_color())
    if not drawn:
        plt.close(fig)
        return
    old = f" (revision {rev}, superseded)" if rev < revision(case) else ""
    ax1.set(title=f"{case}{old}: deterministic eval (mean, 95% CI)", xlabel="env steps", ylabel="return")
    ax2.set(title="training episodes (mean, min-max over seeds)", xlabel="env steps")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, f"learning-{case}.png"), dpi=90)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--only", nargs="+", choices=list(CASES))
    libs = sorted({lib for case in CASES.values() for lib in case[4]})
    ap.add_argument("--lib", choices=sorted(set(libs) | {"derl"}), default=None,
                    help="run one library's missing runs only (e.g. derl's seeds beside the published anchors); "
                         "derl means each of derl's variants (Breakout's derl-envpool and derl-gymnasium too)")
    ap.add_argument("--max-minutes", type=float, default=None, help="launch no new run after M minutes")
    ap.add_argument("--table", action="store_true", help="only rebuild the table and figures from what is stored")
    ap.add_argument("--child", nargs=3, metavar=("CASE", "SEED", "OUT"))
    ap.add_argument("--smoke", type=float, default=None,
                    help="a fraction of every budget, 2 seeds, stored in a temporary folder (tests the script)")
    args = ap.parse_args()
    if args.smoke and not SMOKE:
        smoke_reexec(args.smoke, "derl-learning-smoke-")
    if args.child:
        sb3_child(args.child[0], int(args.child[1]), args.child[2])
        return
    os.makedirs(STORE, exist_ok=True)
    todo = [] if args.table else [
        (case, lib, seed) for case, (_, _, _, seeds, libs) in CASES.items() if args.only is None or case in args.only
        for seed in range(seeds) for lib in libs
        if args.lib in (None, lib, lib.split("-")[0]) and not os.path.exists(stored(case, lib, seed))]
    run_all(todo, launch, finish, args.parallel, args.max_minutes)
    for case in CASES:
        plot(case)
    stats = case_stats()
    text = table(stats)
    with open(os.path.join(RESULTS, "learning.md"), "w") as f:
        f.write(text)
    print(text)
    print("README rows:\n" + readme_rows(stats))


if __name__ == "__main__":
    main()
