"""derl's own env families, registered through the same hook a third-party plugin would use.
Cheap id matchers only: nothing here imports gymnasium."""
import re

from ..hookspecs import hookimpl
from ..spec import EnvFamilySpec

MUJOCO_ENVS = ("HalfCheetah", "Hopper", "Walker2d", "Ant", "Humanoid", "HumanoidStandup", "Swimmer",
               "Reacher", "Pusher", "InvertedPendulum", "InvertedDoublePendulum")
_MUJOCO = re.compile(r"^(%s)-v\d+$" % "|".join(MUJOCO_ENVS))


def is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/") or bool(re.match(r"^[A-Za-z]+NoFrameskip-v[04]$", env_id))


def is_mujoco(env_id: str) -> bool:
    return bool(_MUJOCO.match(env_id))


def is_pybullet(env_id: str) -> bool:
    return env_id.endswith("BulletEnv-v0")


@hookimpl
def derl_register_env_families(register):
    register(EnvFamilySpec("atari", "ALE games with the DeepMind preprocessing stack", is_atari,
                           "derl_core.env.atari", priority=30, vectorization="async"))
    register(EnvFamilySpec("pybullet", "*BulletEnv-v0 from pybullet-envs-gymnasium, normalised", is_pybullet,
                           "derl_core.env.pybullet", priority=20, defaults_from="mujoco"))
    register(EnvFamilySpec("mujoco", "gymnasium MuJoCo v4/v5 tasks, normalised", is_mujoco,
                           "derl_core.env.mujoco", priority=10))
    register(EnvFamilySpec("classic", "anything else gymnasium can make (CartPole, Pendulum, box2d...)",
                           lambda env_id: True, "derl_core.env.classic", priority=-100, exact_resume=True))
