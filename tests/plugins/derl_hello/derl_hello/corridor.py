"""The `corridor` env family: Corridor-vN, a corridor N+5 cells long (Corridor-v0 has 5)."""
import gymnasium as gym
import numpy as np

from derl_core.errors import BadInput


class Corridor(gym.Env):
    def __init__(self, length=5, max_steps=50):
        self.length, self.max_steps = length, max_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.t = 0, 0
        return self._obs(), {}

    def _obs(self):
        return np.array([self.pos / self.length], dtype=np.float32)

    def step(self, action):
        self.t += 1
        self.pos = max(0, self.pos + (1 if action == 1 else -1))
        terminated = self.pos >= self.length
        return self._obs(), float(terminated), terminated, self.t >= self.max_steps, {}


def resolve_id(env_id):
    try:
        int(env_id.split("-v")[1])
        return env_id
    except (IndexError, ValueError):
        raise BadInput(f"unknown corridor id '{env_id}' (use Corridor-vN)") from None


def make_single(env_id, training=True, render_mode=None):
    return gym.wrappers.RecordEpisodeStatistics(Corridor(length=5 + int(env_id.split("-v")[1])))


def wrap_vector(venv, training=True, **options):
    return venv
