"""Hindsight experience replay (Andrychowicz et al. 2017): goals relabelled at sampling time.

A goal env's observations are a Dict with `achieved_goal` and `desired_goal` (and usually `observation`), and
its unwrapped env has `compute_reward(achieved_goal, desired_goal, info)`, vectorised over a batch (the
gymnasium-robotics convention, SB3's HerReplayBuffer's too). ReplayStorage(her=HindsightRelabel(...)) records,
when an episode ends, where its final row is (`ep_end`); a sampled transition of a finished episode is, with
probability goals / (goals + 1), given as desired goal an achieved goal of that episode — one reached after it
("future") or the last ("final") — in its observation and next observation, and its reward recomputed with
compute_reward. Transitions of unfinished episodes keep their own goal. Terminations are kept as stored.
"""
from __future__ import annotations

import numpy as np

from .spaces import kind

GOAL_KEYS = ("achieved_goal", "desired_goal")


def goal_env_problem(space) -> str | None:
    if kind(space) != "Dict" or not all(k in space.spaces for k in GOAL_KEYS):
        keys = sorted(space.spaces) if kind(space) == "Dict" else kind(space)
        return f"--her needs a goal env: Dict observations with achieved_goal and desired_goal (this env's: {keys})"
    return None


def reward_function(venv):
    """compute_reward of the envs behind a vector env (through derl's vector wrappers): called on the first
    in-process env, or through VectorEnv.call on subprocess envs."""
    inner = venv
    while not hasattr(inner, "envs") and hasattr(inner, "env"):
        inner = inner.env
    if hasattr(inner, "envs"):
        return getattr(inner.envs[0].unwrapped, "compute_reward", None)
    if hasattr(venv, "call"):
        return lambda achieved, desired, info: venv.call("compute_reward", achieved, desired, info)[0]
    return None


class HindsightRelabel:
    def __init__(self, compute_reward, goals: int = 4, strategy: str = "future"):
        if strategy not in ("future", "final"):
            raise ValueError(f"--her-strategy must be future or final, got {strategy!r}")
        self.compute_reward, self.strategy = compute_reward, strategy
        self.fraction = 1.0 - 1.0 / (1 + goals)

    @classmethod
    def for_env(cls, venv, goals: int, strategy: str) -> "HindsightRelabel":
        problem = goal_env_problem(venv.single_observation_space)
        if problem:
            raise ValueError(problem)
        fn = reward_function(venv)
        if fn is None:
            raise ValueError("--her needs the env's compute_reward(achieved_goal, desired_goal, info); this env "
                             "has none")
        return cls(fn, goals, strategy)

    def relabel(self, storage, envs, rows, batch, L):
        """Relabels part of `batch` (numpy, from storage.gather: rows `rows` of envs `envs`, n-step windows of
        L steps) in place: the new goal in both observations, each reward of the window recomputed."""
        end = storage.ep_end[envs, rows]
        pick = np.flatnonzero((end >= 0) & (storage.rng.random(len(rows)) < self.fraction))
        if len(pick) == 0:
            return batch
        e, r, end = envs[pick], rows[pick], end[pick]
        span = (end - r) % storage.T                 # the episode's later observations: rows r+1 .. end
        if self.strategy == "future":
            offset = 1 + (storage.rng.random(len(pick)) * span).astype(np.int64)
        else:
            offset = span
        goal = storage.frames["achieved_goal"][e, (r + offset) % storage.T]
        batch.observations["desired_goal"][pick] = goal
        batch.next_observations["desired_goal"][pick] = goal
        infos = [{} for _ in pick]
        returns = np.zeros(len(pick), np.float32)
        for j in range(storage.nstep):   # the window's rewards, each from the goal its next observation reached
            achieved = storage.frames["achieved_goal"][e, (r + j + 1) % storage.T]
            reward = np.asarray(self.compute_reward(achieved, goal, infos), dtype=np.float32).reshape(len(pick))
            returns += np.where(j < L[pick], storage.gamma ** j * reward, 0.0).astype(np.float32)
        batch.rewards[pick] = returns
        return batch
