"""Two small goal envs in gymnasium-robotics' convention (Dict observations of observation, achieved_goal and
desired_goal; `compute_reward(achieved_goal, desired_goal, info)` vectorised over a batch), for --her and its
tests and benchmarks: `derl dqn --env-id derl_core.env.goals:BitFlipping-v0 --her`.

BitFlipping-v0 (Andrychowicz et al. 2017, SB3's BitFlippingEnv): flip one of `n_bits` bits per step to reach a
random target; reward 0 on reaching it (the episode ends), else -1; `n_bits` steps. Without hindsight a random
start almost never sees the target beyond a few bits.
PointGoal-v0: a point in the unit square moves by 0.1 x a Box(-1, 1, (2,)) action towards a random goal over 50
steps; dense (default): reward minus the distance; `sparse=True`: 0 within 0.1 of the goal, else -1."""
from __future__ import annotations

import gymnasium as gym
import numpy as np


class BitFlipping(gym.Env):
    def __init__(self, n_bits: int = 8):
        self.n = int(n_bits)
        bits = gym.spaces.MultiBinary(self.n)
        self.observation_space = gym.spaces.Dict({"observation": bits, "achieved_goal": bits, "desired_goal": bits})
        self.action_space = gym.spaces.Discrete(self.n)
        self.state = self.goal = None
        self.t = 0

    def _obs(self):
        return {"observation": self.state.copy(), "achieved_goal": self.state.copy(), "desired_goal": self.goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.integers(0, 2, self.n).astype(np.int8)
        self.goal = self.np_random.integers(0, 2, self.n).astype(np.int8)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.state[int(action)] ^= 1
        self.t += 1
        reward = float(self.compute_reward(self.state, self.goal, {}))
        success = reward == 0.0
        return self._obs(), reward, success, self.t >= self.n, {"is_success": success}

    def compute_reward(self, achieved_goal, desired_goal, info):
        return -np.any(np.asarray(achieved_goal) != np.asarray(desired_goal), axis=-1).astype(np.float32)


class PointGoal(gym.Env):
    STEPS, SPEED, RADIUS = 50, 0.1, 0.1

    def __init__(self, sparse: bool = False):
        self.sparse = bool(sparse)
        square = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({"observation": square, "achieved_goal": square,
                                                  "desired_goal": square})
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = self.goal = None
        self.t = 0

    def _obs(self):
        return {"observation": self.pos.copy(), "achieved_goal": self.pos.copy(), "desired_goal": self.goal.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self.goal = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        move = np.clip(np.asarray(action, np.float32), -1.0, 1.0) * self.SPEED
        self.pos = np.clip(self.pos + move, -1.0, 1.0).astype(np.float32)
        self.t += 1
        reward = float(self.compute_reward(self.pos, self.goal, {}))
        success = bool(np.linalg.norm(self.pos - self.goal) < self.RADIUS)
        return self._obs(), reward, False, self.t >= self.STEPS, {"is_success": success}

    def compute_reward(self, achieved_goal, desired_goal, info):
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        if self.sparse:
            return -(distance >= self.RADIUS).astype(np.float32)
        return -distance.astype(np.float32)


gym.register("BitFlipping-v0", entry_point=BitFlipping)
gym.register("PointGoal-v0", entry_point=PointGoal)
gym.register("PointGoalSparse-v0", entry_point=PointGoal, kwargs={"sparse": True})
