"""The catch-all family: whatever gymnasium can make, with episode statistics."""
import gymnasium as gym

from ..errors import BadInput


def check_registered(env_id: str, kind: str = "") -> str:
    """`env_id` if gymnasium knows it; BadInput otherwise. `kind` names the family in the message."""
    try:
        gym.spec(env_id)
    except Exception as exc:  # gymnasium raises several error types for unknown / deprecated ids
        label = f"{kind} env id" if kind else "env id"
        raise BadInput(f"unknown {label} '{env_id}': {str(exc).splitlines()[0]}") from None
    return env_id


def resolve_id(env_id: str) -> str:
    return check_registered(env_id)


def make_single(env_id: str, training: bool = True, render_mode=None):
    return gym.wrappers.RecordEpisodeStatistics(gym.make(env_id, render_mode=render_mode))


def wrap_vector(venv, training: bool = True, **options):
    return venv
