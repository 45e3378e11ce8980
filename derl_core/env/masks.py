"""Action masks (sb3-contrib's MaskablePPO convention): an env whose unwrapped env has `action_masks()` (a bool
per action; for MultiDiscrete actions one per choice of each dimension, concatenated) has its masks joined to
its observations under the key "action_mask" — a Dict key of its own, or {"observation": obs, "action_mask":
mask} for a plain observation space — so masks travel with observations through rollouts, replays, Ray
workers and checkpoints. An env whose Dict observations already carry "action_mask" needs nothing. Policies
read the key (rl.policy.action_mask): invalid actions get no probability (PPO, A2C) and are never the greedy
or the random choice (DQN, QR-DQN); Q-learning targets maximise over the next state's valid actions."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

from ..spec import ACTION_MASK as MASK


def mask_size(action_space) -> int | None:
    if isinstance(action_space, gym.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gym.spaces.MultiDiscrete):
        return int(np.sum(action_space.nvec))
    return None


def has_action_masks(env) -> bool:
    return callable(getattr(env.unwrapped, "action_masks", None)) and mask_size(env.action_space) is not None


class ActionMasksToObservation(gym.ObservationWrapper):
    def __init__(self, env):
        super().__init__(env)
        mask = gym.spaces.MultiBinary(mask_size(env.action_space))
        space = env.observation_space
        self.plain = not isinstance(space, gym.spaces.Dict)
        self.observation_space = gym.spaces.Dict(
            {"observation": space, MASK: mask} if self.plain else {**space.spaces, MASK: mask})

    def observation(self, observation):
        mask = np.asarray(self.env.unwrapped.action_masks(), dtype=np.int8).reshape(-1)
        return {"observation": observation, MASK: mask} if self.plain else {**observation, MASK: mask}


class MaskedChoice(gym.Env):
    """A toy env where most actions are invalid (tests, bench): `n` actions, of which `valid` (drawn each step)
    are allowed, one of them the target shown in the observation (a one-hot of n); reward 1 for the target,
    0 for another valid action; `length` steps. An invalid action raises (`strict`, the default: the test that
    masks are honoured) or costs -1 and ends nothing (`strict=False`). `masks=False` hides action_masks() (the
    unmasked comparison)."""

    def __init__(self, n: int = 16, valid: int = 3, length: int = 20, strict: bool = True, masks: bool = True):
        self.n, self.valid, self.length, self.strict = int(n), int(valid), int(length), bool(strict)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.n,), np.float32)
        self.action_space = gym.spaces.Discrete(self.n)
        self.allowed = self.target = None
        self.t = 0
        if not masks:
            self.action_masks = None   # not callable: derl sees no masks

    def action_masks(self):
        return self.allowed.copy()

    def _draw(self):
        choice = self.np_random.choice(self.n, self.valid, replace=False)
        self.allowed = np.zeros(self.n, bool)
        self.allowed[choice] = True
        self.target = int(choice[0])
        obs = np.zeros(self.n, np.float32)
        obs[self.target] = 1.0
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def step(self, action):
        action = int(action)
        if not self.allowed[action]:
            if self.strict:
                raise AssertionError(f"invalid action {action} (allowed: {np.flatnonzero(self.allowed).tolist()})")
            reward = -1.0
        else:
            reward = float(action == self.target)
        self.t += 1
        return self._draw(), reward, False, self.t >= self.length, {}


gym.register("MaskedChoice-v0", entry_point=MaskedChoice)
