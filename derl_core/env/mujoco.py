"""gymnasium's MuJoCo tasks. Old ids (-v2/-v3) needed the abandoned mujoco-py: they run as -v5 with a notice."""
import re

import gymnasium as gym
import mujoco

# MuJoCo's own warnings (e.g. gymnasium's models use a deprecated compiler attribute) go to stdout and to a
# MUJOCO_LOG.TXT in the working directory; derl writes nothing outside a run directory, so they are dropped.
mujoco.set_mju_user_warning(lambda message: None)

from .classic import check_registered, make_kwargs
from .normalize import NormalizeObsReward


def resolve_id(env_id: str) -> str:
    m = re.match(r"^(.*)-v([23])$", env_id)
    if m:
        new = f"{m.group(1)}-v5"
        print(f"derl: {env_id} needs the abandoned mujoco-py; running {new} instead")
        env_id = new
    return check_registered(env_id, "MuJoCo")


def make_single(env_id: str, training: bool = True, render_mode=None, **env_kwargs):
    env = gym.make(env_id, **make_kwargs(render_mode, env_kwargs))
    return gym.wrappers.RecordEpisodeStatistics(env)


def wrap_vector(venv, training: bool = True, normalize: bool = True, **options):
    return NormalizeObsReward(venv, training=training) if normalize else venv


def envpool_task(env_id: str, training: bool = True):
    """EnvPool's own MuJoCo tasks (same ids, same defaults); episodes capped at 1000 steps as in gymnasium."""
    from .pool import PoolTask
    return PoolTask(env_id, {"max_episode_steps": gym.spec(env_id).max_episode_steps or 1000})
