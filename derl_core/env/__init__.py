"""`make(env_id, num_envs, seed)`: detect the env family, build and wrap a gymnasium vector env.

Every vector env uses autoreset_mode SAME_STEP: an ending step returns the next episode's first observation
and puts the real last observation in infos["final_obs"]; EnvRunner handles that in one place."""
from __future__ import annotations

import functools

from ..errors import BadInput
from ..spec import load_object


def family_of(env_id: str, registry=None):
    if registry is None:
        from ..plugins import registry as get_registry
        registry = get_registry()
    return registry.family_for(env_id)


def make(env_id: str, num_envs: int = 1, seed: int | None = None, training: bool = True,
         render_mode=None, asynchronous: bool | None = None, registry=None, normalize: bool = True):
    """A gymnasium VectorEnv with `.family` and `.env_id` attributes. Seeding happens at the first reset."""
    import gymnasium as gym

    family = family_of(env_id, registry)
    module = load_object(family.module)
    env_id = module.resolve_id(env_id)
    fns = [functools.partial(module.make_single, env_id, training, render_mode) for _ in range(num_envs)]
    if asynchronous is None:
        asynchronous = family.vectorization == "async" and num_envs > 1
    cls = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
    try:
        venv = cls(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(f"cannot make env '{env_id}': {type(exc).__name__}: {exc}") from None
    venv = module.wrap_vector(venv, training, normalize=normalize)
    venv.family, venv.env_id = family.name, env_id
    return venv


def state_objects(venv) -> dict:
    """Wrappers of `venv` whose state belongs in a checkpoint (normalisation statistics)."""
    out, env = {}, venv
    while env is not None:
        if hasattr(env, "state_dict") and hasattr(env, "load_state_dict"):
            out[f"env_{type(env).__name__}"] = env
        env = getattr(env, "env", None)
    return out


def space_kind(space) -> str:
    return type(space).__name__


def check_action_space(spec, venv):
    kind = space_kind(venv.single_action_space)
    if kind not in spec.action_spaces:
        raise BadInput(f"{spec.name} cannot handle {kind} action spaces ({venv.env_id} has "
                       f"{venv.single_action_space}); it handles {', '.join(spec.action_spaces)}")
