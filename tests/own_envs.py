"""derl's own small envs for the your-own-env tests, reached as "tests.own_envs:Choose-v0" (gymnasium's
module:id convention). Their constructors take no render_mode, on purpose."""
import gymnasium as gym
import numpy as np


class Choose(gym.Env):
    """Discrete(3, start=-1) actions: reward 1 for action 1 (the last valid one), else 0; `length` steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(3, start=-1)

    def __init__(self, length: int = 10):
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action   # action 2 (never valid here) would fail
        self.t += 1
        return np.zeros(1, np.float32), float(action == 1), False, self.t >= self.length, {}


class Interval(gym.Env):
    """Box actions on [10, 20]: reward -|a - 17| / 10 per step, 10 steps (a random policy scores about -2.9)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(10.0, 20.0, (1,), np.float32)

    def __init__(self):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, np.float32)), action
        self.t += 1
        return np.zeros(1, np.float32), -abs(float(action[0]) - 17.0) / 10, False, self.t >= 10, {}


gym.register("Choose-v0", entry_point=Choose)
gym.register("Interval-v0", entry_point=Interval)
