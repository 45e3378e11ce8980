"""The catch-all family: whatever gymnasium can make, with episode statistics.

An id may name the module that registers it, as gymnasium.make does: "my_pkg.my_module:MyEnv-v0" imports
my_pkg.my_module, then makes MyEnv-v0; the run records the whole id, so eval, resume and Ray workers import
the module again."""
import gymnasium as gym

from ..errors import BadInput, first_line
from ..spec import import_user_module


def split_id(env_id: str) -> tuple:
    """("my_pkg.my_module", "MyEnv-v0") for "my_pkg.my_module:MyEnv-v0"; ("", env_id) without a module."""
    module, sep, name = env_id.rpartition(":")
    return (module, name) if sep else ("", env_id)


def import_env_module(module: str):
    """Imports the module of a "module:EnvId" id (spec.import_user_module: the current folder too)."""
    import_user_module(module)


def check_registered(env_id: str, kind: str = "") -> str:
    """`env_id` if gymnasium knows it (after importing its module); BadInput otherwise. `kind` names the family
    in the message."""
    module, name = split_id(env_id)
    if module:
        try:
            import_env_module(module)
        except Exception as exc:
            raise BadInput(f"env id '{env_id}': cannot import module '{module}' ({type(exc).__name__}: "
                           f"{first_line(exc, 120)})") from None
    try:
        gym.spec(name)
    except Exception as exc:  # gymnasium raises several error types for unknown / deprecated ids
        label = f"{kind} env id" if kind else "env id"
        raise BadInput(f"unknown {label} '{env_id}': {str(exc).splitlines()[0]}") from None
    return env_id


def resolve_id(env_id: str) -> str:
    return check_registered(env_id)


def make_kwargs(render_mode, env_kwargs: dict | None) -> dict:
    """gymnasium.make's keyword arguments: render_mode only when rendering is asked for (many research envs'
    constructors take none), then the run's --env-kwargs."""
    return {**({"render_mode": render_mode} if render_mode is not None else {}), **(env_kwargs or {})}


def make_single(env_id: str, training: bool = True, render_mode=None, **env_kwargs):
    return gym.wrappers.RecordEpisodeStatistics(gym.make(env_id, **make_kwargs(render_mode, env_kwargs)))


def wrap_vector(venv, training: bool = True, **options):
    return venv
