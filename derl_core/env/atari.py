"""Atari with the DeepMind stack: no-op starts, skip 4 with max-pool, 84x84 gray, 4-frame stack (zero padded
at the start of an episode), and for training episodic life, fire reset and sign-clipped rewards.
Episode statistics are recorded before episodic life and reward clipping: raw scores of whole games.
Episodes are capped at 108k frames. For evaluation, FIRE is also pressed after each lost life."""
import re

import ale_py
import gymnasium as gym
import numpy as np

from .classic import check_registered, make_kwargs

gym.register_envs(ale_py)

MAX_AGENT_STEPS = 27_000   # 108k frames: the usual cap on an Atari episode (Machado et al. 2018)
FRAME_STACK = 4   # env.make reads it: replays store one frame per row and rebuild the stack
NOOP_MAX = 30   # up to 30 no-op actions after a reset: random starts


def resolve_id(env_id: str) -> str:
    return check_registered(env_id, "Atari")


class EpisodicLife(gym.Wrapper):
    """A lost life ends the training episode; the real reset happens only at game over."""

    def __init__(self, env):
        super().__init__(env)
        self.lives, self.game_over = 0, True

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = self.env.unwrapped.ale.lives()
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs):
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


class FireReset(gym.Wrapper):
    """Presses FIRE after a reset in games that wait for it; with `on_life_loss` (evaluation, where a lost
    life does not end the episode) also after each lost life."""

    def __init__(self, env, on_life_loss: bool = False):
        super().__init__(env)
        self.on_life_loss = on_life_loss
        self.lives = 0

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        lives = self.env.unwrapped.ale.lives()
        if self.on_life_loss and 0 < lives < self.lives and not (terminated or truncated):
            obs, more, terminated, truncated, info = self.env.step(1)
            reward += more
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        for action in (1, 2):
            obs, _, terminated, truncated, info = self.env.step(action)
            if terminated or truncated:
                obs, info = self.env.reset(**kwargs)
        self.lives = self.env.unwrapped.ale.lives()
        return obs, info


def make_single(env_id: str, training: bool = True, render_mode=None, **env_kwargs):
    env = gym.make(env_id, **{"frameskip": 1, **make_kwargs(render_mode, env_kwargs)})
    env = gym.wrappers.AtariPreprocessing(env, noop_max=NOOP_MAX, frame_skip=4, screen_size=84,
                                          terminal_on_life_loss=False, grayscale_obs=True)
    env = gym.wrappers.TimeLimit(env, MAX_AGENT_STEPS)
    env = gym.wrappers.RecordEpisodeStatistics(env)
    fire = "FIRE" in env.unwrapped.get_action_meanings()
    if training:
        env = EpisodicLife(env)
        if fire:
            env = FireReset(env)
        env = gym.wrappers.TransformReward(env, np.sign)
    elif fire:
        env = FireReset(env, on_life_loss=True)
    return gym.wrappers.FrameStackObservation(env, 4, padding_type="zero")


def wrap_vector(venv, training: bool = True, **options):
    return venv


def envpool_task(env_id: str, training: bool = True, sb3_starts: bool = True):
    """The same stack in EnvPool (pool.py stacks the frames, zero-padded, and keeps whole-game statistics);
    ALE/*-v5 ids keep their sticky actions (0.25). Training starts lives as the gymnasium stack and SB3's
    AtariWrapper do: 1 to 30 no-op frames at a game's start only, then FIRE, RIGHT; after a lost life NOOP, FIRE,
    RIGHT, all hidden from the learner (step for step the gymnasium stack: tests/test_envpool.py). With
    `sb3_starts=False`, EnvPool's own way: 0 to 29 no-op frames and a one-frame FIRE at every life (derl's
    default until the Breakout ablation sb3-life-starts, bench/results/ablation-ppo-breakout.md)."""
    from .pool import PoolTask
    m = re.match(r"^(?:ALE/(\w+)-v5|(\w+)NoFrameskip-v4)$", env_id)
    if not m:
        return None
    game = m.group(1) or m.group(2)
    sb3 = sb3_starts and training
    config = dict(stack_num=1, frame_skip=4, noop_max=max(NOOP_MAX, 1), img_height=84, img_width=84, gray_scale=True,
                  use_inter_area_resize=True, max_episode_steps=MAX_AGENT_STEPS, use_fire_reset=not sb3,
                  repeat_action_probability=0.25 if m.group(1) else 0.0,
                  episodic_life=training and not sb3, reward_clip=training)
    fire = "FIRE" in gym.make(env_id).unwrapped.get_action_meanings()
    starts = dict(game_start=(1, 2) if fire else (), life_start=(0, 1, 2) if fire else (0,)) if sb3 else {}
    return PoolTask(f"{game}-v5", config, stack=4, whole_games=training, fire_on_life_loss=fire and not training,
                    **starts)
