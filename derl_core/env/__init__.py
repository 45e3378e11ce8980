"""`make(env_id, num_envs, seed)`: detect the env family, build and wrap a gymnasium vector env.

Every vector env uses autoreset_mode SAME_STEP: an ending step returns the next episode's first observation
and puts the real last observation in infos["final_obs"]; EnvRunner handles that in one place."""
from __future__ import annotations

import functools

from ..errors import BadInput, first_line
from ..spec import load_object


def family_of(env_id: str, registry=None):
    if registry is None:
        from ..plugins import registry as get_registry
        registry = get_registry()
    return registry.family_for(env_id)


BACKENDS = ("envpool", "gymnasium")
# By default EnvPool steps vector envs of at least this many envs. Measured on 2 cores (env steps/s, EnvPool /
# gymnasium): Breakout 1 env 1406 / 1692, 8 envs 3184 / 1882; HalfCheetah 1 env 6079 / 15135, 2 envs 12813 /
# 17682, 4 envs 17488 / 16092, 8 envs 33115 / 16386. One env pays EnvPool's hand-off to its thread every step.
POOL_MIN_ENVS = 4


def make(env_id: str, num_envs: int = 1, seed: int | None = None, training: bool = True,
         render_mode=None, asynchronous: bool | None = None, registry=None, normalize: bool | dict = True,
         backend: str | None = None, env_kwargs: dict | None = None, wrapper: str | None = None,
         frame_stack: int | None = None, obs_keys: list | None = None):
    """A gymnasium VectorEnv with `.family`, `.env_id` and `.backend` attributes. Seeding happens at the first
    reset. `backend`: None picks EnvPool where the family offers it (`envpool_task`), it is installed and
    there are at least POOL_MIN_ENVS envs; "gymnasium" the gymnasium stack; "envpool" insists. Rendering
    (videos), `env_kwargs` (keyword arguments for gymnasium.make, passed to the family's make_single), a
    `wrapper` ("module:callable", applied to each single env after the family's make_single) and
    `frame_stack` (K observations stacked, zero-padded at reset) always use gymnasium. The vector env's
    `frame_stack` attribute says how many frames each observation stacks (1: none), for replays.
    `normalize`: a dict of the run's switches (model_options.normalization: obs, reward, clip_obs, clip_reward,
    gamma), applied here for every family; True / False is handed to the family's wrap_vector (the mujoco and
    pybullet families normalise both with True, as before the switches)."""
    family = family_of(env_id, registry)
    try:
        module = load_object(family.module)
    except Exception as exc:   # e.g. a MUJOCO_GL the machine has no library for
        raise BadInput(f"the {family.name} env family ({family.module}) cannot be loaded: "
                       f"{type(exc).__name__}: {first_line(exc)}") from None
    env_id = module.resolve_id(env_id)
    venv = None
    own_stack = int(getattr(module, "FRAME_STACK", 1))
    if frame_stack and own_stack > 1:
        raise BadInput(f"--frame-stack: the {family.name} family stacks {own_stack} frames itself")
    gymnasium_only = [flag for flag, v in (("--env-kwargs", env_kwargs), ("--env-wrapper", wrapper),
                                            ("--frame-stack", frame_stack), ("--obs-keys", obs_keys)) if v]
    if gymnasium_only and backend == "envpool":
        raise BadInput(f"{gymnasium_only[0]} needs the gymnasium stack: use --env-backend gymnasium (the default)")
    if render_mode is None and not gymnasium_only and (backend == "envpool" or backend is None
                                                   and num_envs >= POOL_MIN_ENVS):
        venv = _make_pool(module, family.name, env_id, num_envs, seed, training, required=backend == "envpool")
    used = "gymnasium" if venv is None else "envpool"
    if venv is None:
        single = functools.partial(_single, module.make_single, env_id, training, render_mode, env_kwargs or {},
                                   load_wrapper(wrapper) if wrapper else None, frame_stack, obs_keys)
        venv = _make_gymnasium(single, env_id, num_envs, asynchronous, family, env_kwargs)
    if isinstance(normalize, dict):
        venv = normalized(module.wrap_vector(venv, training, normalize=False), training, env_id, **normalize)
    else:
        venv = module.wrap_vector(venv, training, normalize=normalize)
    venv.family, venv.env_id, venv.backend = family.name, env_id, used
    venv.frame_stack = frame_stack or own_stack
    return venv


def normalized(venv, training: bool, env_id: str, obs: bool, reward: bool, clip_obs: float = 10.0,
               clip_reward: float = 10.0, gamma: float = 0.99):
    """--normalize-obs / --normalize-reward around a vector env (its statistics are a checkpoint's env state)."""
    if not (obs or reward):
        return venv
    space = venv.single_observation_space
    if obs and (space_kind(space) != "Box" or getattr(space, "dtype", None) == "uint8" and len(space.shape) >= 2):
        what = "a uint8 image" if space_kind(space) == "Box" else f"a {space_kind(space)}"
        raise BadInput(f"--normalize-obs needs vector Box observations; {env_id} gives {what} ({space}): use "
                       f"--normalize-obs false (images: --image-scale)")
    from .normalize import NormalizeObsReward
    return NormalizeObsReward(venv, gamma=gamma, clip=clip_obs, training=training, obs=obs, reward=reward,
                              clip_reward=clip_reward)


def _make_pool(module, family: str, env_id: str, num_envs: int, seed, training: bool, required: bool):
    from . import pool
    task = module.envpool_task(env_id, training) if hasattr(module, "envpool_task") else None
    why = (f"the {family} family has no EnvPool version of {env_id}" if task is None
           else "EnvPool is not installed (pip install envpool)" if not pool.available()
           else f"EnvPool has no task {task.task_id}" if not pool.has_task(task.task_id) else None)
    if why:
        if required:
            raise BadInput(f"--env-backend envpool: {why}")
        return None
    return pool.make(task, num_envs, seed)


def load_wrapper(path: str):
    """The callable of --env-wrapper module:callable (imported like a module:EnvId's module)."""
    from .classic import import_env_module
    module, _, attr = path.partition(":")
    try:
        import_env_module(module)
        obj = load_object(path)
    except Exception as exc:
        raise BadInput(f"--env-wrapper {path}: cannot load it ({type(exc).__name__}: {first_line(exc, 120)})") from None
    if not callable(obj):
        raise BadInput(f"--env-wrapper {path} is not callable")
    return obj


def _single(make_single, env_id, training, render_mode, env_kwargs, wrapper, frame_stack, obs_keys=None):
    env = make_single(env_id, training, render_mode, **env_kwargs)
    if wrapper is not None:
        env = wrapper(env)
    if obs_keys:
        env = keep_keys(env, env_id, [k for k in obs_keys if k != "action_mask"])
    from .masks import ActionMasksToObservation, has_action_masks
    if has_action_masks(env):   # action_masks(): joined to the observations (env/masks.py)
        env = ActionMasksToObservation(env)
    if frame_stack:
        import gymnasium as gym
        env = gym.wrappers.FrameStackObservation(env, frame_stack, padding_type="zero")
    return env


def keep_keys(env, env_id: str, keys: list):
    """--obs-keys: only these keys of a Dict observation (gymnasium's FilterObservation)."""
    import gymnasium as gym
    space = env.observation_space
    if not isinstance(space, gym.spaces.Dict):
        raise BadInput(f"--obs-keys needs Dict observations; {env_id} has {type(space).__name__} observations")
    missing = [k for k in keys if k not in space.spaces]
    if missing:
        raise BadInput(f"--obs-keys: {env_id}'s observations have no key '{missing[0]}' (its keys: "
                       f"{', '.join(map(str, space.spaces))})")
    return gym.wrappers.FilterObservation(env, keys)


def _make_gymnasium(single, env_id, num_envs, asynchronous, family, env_kwargs=None):
    import gymnasium as gym
    fns = [single for _ in range(num_envs)]
    if asynchronous is None:
        asynchronous = family.vectorization == "async" and num_envs > 1
    cls = gym.vector.AsyncVectorEnv if asynchronous else gym.vector.SyncVectorEnv
    try:
        venv = cls(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    except BadInput:
        raise
    except Exception as exc:
        raise BadInput(f"cannot make env '{env_id}'{' with --env-kwargs' if env_kwargs else ''}: "
                       f"{type(exc).__name__}: {first_line(exc, 200)}") from None
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

