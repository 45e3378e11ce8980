"""Estimates of what a run will allocate, checked against the machine's memory before anything is built.

No torch here: plugins call these helpers from their registering module (`AlgorithmSpec.memory`)."""
from __future__ import annotations

import math

from .errors import BadInput
from .machine import machine_bytes

GiB = 1 << 30


def prod(shape) -> int:
    return int(math.prod(shape)) if shape else 1


def replay_bytes(capacity: int, env: dict, prioritized: bool = False) -> int:
    """ReplayStorage: one frame per row for stacked uint8 images, the action, reward, flags, episode step;
    a sum tree (two float64 per row) and a flag when prioritized."""
    if "frame_bytes" in env:
        frame = env["frame_bytes"]
    else:   # an env description from before Dict observations and frame_stack
        shape = env["obs_shape"]
        frame = (prod(shape[1:]) if len(shape) == 3 and env["obs_itemsize"] == 1 else prod(shape)) * env["obs_itemsize"]
    row = frame + prod(env["action_shape"]) * env["action_itemsize"] + 4 + 3 + 4
    if prioritized:
        row += 16 + 1
    return int(capacity) * row


def mlp_bytes(sizes, copies: int = 4) -> int:
    """float32 parameters of an MLP with layer widths `sizes`, times `copies` (weights, gradients, Adam's two
    moments)."""
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 4 * copies * params


def observation_bytes(space) -> int:
    """Bytes of one observation: the sum over a Dict's or Tuple's leaves."""
    subs = getattr(space, "spaces", None)
    if subs is not None:
        return sum(observation_bytes(s) for s in (subs.values() if isinstance(subs, dict) else subs))
    return prod(space.shape or ()) * (space.dtype.itemsize if space.dtype else 8)


def env_info(venv) -> dict:
    """Plain values about a vector env for AlgorithmSpec.memory: obs_shape and obs_itemsize (those of a plain
    space; () and 4 for Dict/Tuple), obs_bytes (any space), frame_bytes (what a replay stores per row:
    one frame of a stack), action_shape, action_itemsize, num_envs."""
    obs, act = venv.single_observation_space, venv.single_action_space
    stack = getattr(venv, "frame_stack", 1)
    whole = observation_bytes(obs)
    return {"obs_shape": tuple(obs.shape or ()), "obs_itemsize": obs.dtype.itemsize if obs.dtype else 4,
            "obs_bytes": whole, "frame_bytes": whole // stack if stack > 1 else whole,
            "action_shape": tuple(act.shape or ()), "action_itemsize": act.dtype.itemsize if act.dtype else 8,
            "num_envs": venv.num_envs}


def check_memory(spec, hparams: dict, venv):
    """BadInput when the plugin's estimate exceeds the machine's memory (with both figures)."""
    if spec.memory is None:
        return
    try:
        need = int(spec.memory(dict(hparams), env_info(venv)))
    except Exception as exc:
        raise BadInput(f"the {spec.name} plugin ({spec.distribution}) failed to estimate its memory: "
                       f"{type(exc).__name__}: {exc}") from None
    have = machine_bytes()
    if have and need > have:
        raise BadInput(f"{spec.name} with these hyperparameters needs about {need / GiB:,.1f} GiB of memory; "
                       f"this machine has {have / GiB:,.1f} GiB (lower --buffer-size, --hidden-size or "
                       f"--num-envs)")


def rollout_bytes(hparams: dict, env: dict) -> int:
    """A rollout of nsteps x num_envs: observations and next observations, kept as numpy and as torch
    (about four copies), plus a few floats per step."""
    obs = env.get("obs_bytes", prod(env["obs_shape"]) * 4)
    return hparams["nsteps"] * hparams["num_envs"] * (4 * obs + 64)
