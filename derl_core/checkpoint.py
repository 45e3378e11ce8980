"""Checkpoints: written atomically, the last K kept, loaded with torch.load(weights_only=True).

A checkpoint holds what the Alg declares (models, target nets, optimizers, runner counters, policy RNGs,
normalisation statistics, and the replay when asked), the summary's running state, the global RNGs, and for
in-process envs of families marked exact_resume their plain state (numbers, arrays, RNG states), so that a
resumed run continues exactly where the interrupted one stopped. Numpy values are stored as tensors or plain
Python values: nothing in a checkpoint needs pickled code to load, and a file that does is refused.
"""
from __future__ import annotations

import os
import pickle
import random
import re

import numpy as np
import torch

from .errors import BadInput

FORMAT = 1
PATTERN = re.compile(r"^ckpt_(\d+)\.pt$")


# ------------------------------------------------------------------ numpy <-> safe values
def to_safe(value):
    """Nested dicts/lists/tuples of tensors and plain values, with numpy turned into torch or Python."""
    if isinstance(value, dict):
        return {k: to_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_safe(v) for v in value)
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("object arrays cannot go into a checkpoint")
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_safe(value):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return value["__ndarray__"].numpy()
        return {k: from_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(from_safe(v) for v in value)
    return value


# ------------------------------------------------------------------ global RNGs
def rng_state() -> dict:
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict):
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(tuple(state["numpy"]))
    torch.set_rng_state(state["torch"])


# ------------------------------------------------------------------ env state (in-process envs)
_PLAIN = (bool, int, float, type(None))


def _plain_vars(obj) -> dict:
    out = {}
    for key, value in vars(obj).items():
        if isinstance(value, _PLAIN):
            out[key] = value
        elif isinstance(value, np.ndarray) and value.dtype != object:
            out[key] = value.copy()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        elif isinstance(value, np.random.Generator):
            out[key] = {"__generator__": value.bit_generator.state}
    return out


def _restore_vars(obj, state: dict):
    for key, value in state.items():
        if isinstance(value, dict) and "__generator__" in value:
            state = value["__generator__"]
            gen = np.random.Generator(getattr(np.random, state["bit_generator"])())
            gen.bit_generator.state = state
            setattr(obj, key, gen)
        else:
            setattr(obj, key, value.copy() if isinstance(value, np.ndarray) else value)


def _chain(env):
    while env is not None:
        yield env
        env = getattr(env, "env", None)


def env_state(venv) -> dict | None:
    """Plain state of every wrapper of every sub-env of an in-process vector env (None otherwise)."""
    base = venv.unwrapped
    if not hasattr(base, "envs"):
        return None
    return {"vector": _plain_vars(base), "envs": [[_plain_vars(w) for w in _chain(e)] for e in base.envs]}


def set_env_state(venv, state: dict):
    base = venv.unwrapped
    _restore_vars(base, state["vector"])
    for env, wrappers in zip(base.envs, state["envs"]):
        for wrapper, wstate in zip(_chain(env), wrappers):
            _restore_vars(wrapper, wstate)


# ------------------------------------------------------------------ files
def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "checkpoints")


def list_checkpoints(run_dir: str) -> list:
    """Checkpoint paths, oldest first."""
    d = checkpoint_dir(run_dir)
    if not os.path.isdir(d):
        return []
    found = sorted((int(m.group(1)), name) for name in os.listdir(d) if (m := PATTERN.match(name)))
    return [os.path.join(d, name) for _, name in found]


def save(run_dir: str, payload: dict, step: int, keep: int = 3) -> str:
    """Writes ckpt_<step>.pt through a temporary file and a rename, then keeps the newest `keep`."""
    d = checkpoint_dir(run_dir)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"ckpt_{step:012d}.pt")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(to_safe(dict(payload, format=FORMAT, step=step)), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        os.remove(old)
    return path


def load(path: str) -> dict:
    """Loads a checkpoint without executing anything from it; BadInput names the file when it cannot."""
    try:
        with open(path, "rb") as f:
            data = torch.load(f, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInput(f"checkpoint '{path}' does not exist") from None
    except pickle.UnpicklingError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "global" in msg.lower() or "weights_only" in msg.lower():
            raise BadInput(f"checkpoint '{path}' carries pickled code and was not loaded "
                           f"(derl loads weights only): {msg}") from None
        raise BadInput(_corrupt(path, msg)) from None
    except Exception as exc:  # truncated zip, bad magic number, ...
        raise BadInput(_corrupt(path, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))\
            from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadInput(f"'{path}' is not a derl checkpoint")
    return from_safe(data)


def _corrupt(path: str, why: str) -> str:
    run_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    older = [p for p in list_checkpoints(run_dir) if os.path.abspath(p) != os.path.abspath(path)
             and p < path]
    offer = (f"; the previous checkpoint is {older[-1]} (use --checkpoint {older[-1]})" if older
             else "; there is no earlier checkpoint")
    return f"checkpoint '{path}' is corrupt or truncated ({why}){offer}"
