"""*BulletEnv-v0 ids from pybullet-envs-gymnasium, treated like MuJoCo. pybullet prints to the C-level
stdout on import and env creation; that is silenced so derl's own output stays clean."""
import contextlib
import os

import gymnasium as gym

from .classic import check_registered, make_kwargs
from .normalize import NormalizeObsReward


@contextlib.contextmanager
def silence_stdout():
    import sys
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


with silence_stdout():
    import pybullet_envs_gymnasium  # noqa: F401  (registers the *BulletEnv-v0 ids)


def resolve_id(env_id: str) -> str:
    return check_registered(env_id, "PyBullet")


def make_single(env_id: str, training: bool = True, render_mode=None, **env_kwargs):
    with silence_stdout():
        env = gym.make(env_id, **make_kwargs(render_mode, env_kwargs))
        env.reset(seed=0)  # pybullet connects (and prints) on the first reset
    return gym.wrappers.RecordEpisodeStatistics(env)


def wrap_vector(venv, training: bool = True, normalize: bool = True, **options):
    return NormalizeObsReward(venv, training=training) if normalize else venv
