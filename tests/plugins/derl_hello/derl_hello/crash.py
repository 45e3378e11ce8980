"""Crash-v0: CartPole in a subprocess worker that kills its own process at its 40th step."""
import os
import signal

import gymnasium as gym


class DieAt(gym.Wrapper):
    def __init__(self, env, at=40):
        super().__init__(env)
        self.count, self.at = 0, at

    def step(self, action):
        self.count += 1
        if self.count >= self.at:
            os.kill(os.getpid(), signal.SIGKILL)
        return self.env.step(action)


def resolve_id(env_id):
    return env_id


def make_single(env_id, training=True, render_mode=None):
    return gym.wrappers.RecordEpisodeStatistics(DieAt(gym.make("CartPole-v1")))


def wrap_vector(venv, training=True, **options):
    return venv
