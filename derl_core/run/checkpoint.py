"""Checkpoints: written atomically, the last K kept, loaded with torch.load(weights_only=True).

A checkpoint holds what the Alg declares (models, target nets, optimizers, runner counters, policy RNGs,
normalisation statistics, and the replay when asked), the summary's running state, the global RNGs, and for
in-process envs of families marked exact_resume their plain state (numbers, arrays, RNG states), so that a
resumed run continues exactly where the interrupted one stopped. Numpy values are stored as tensors or plain
Python values: nothing in a checkpoint needs pickled code to load, and a file that does is refused.
A header carries a SHA-256 of the rest of the file: a truncated or altered checkpoint is reported as damaged
(`Damaged`, a BadInput) before anything is unpickled, and its schema is checked after.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import random
import re
import stat

import numpy as np
import torch

from ..errors import BadInput
from .rundir import replacing

FORMAT = 2
PATTERN = re.compile(r"^ckpt_(\d+)\.pt$")
BEST = "best.pt"   # --eval-every: the checkpoint with the best mean eval return so far (never pruned)


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
        if value.dtype.kind in "SU":   # text arrays (FrozenLake's map): plain lists, their dtype kept
            return {"__textarray__": value.tolist(), "dtype": value.dtype.str}
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_safe(value):
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return value["__ndarray__"].numpy()
        if set(value) == {"__textarray__", "dtype"}:
            return np.array(value["__textarray__"], dtype=np.dtype(value["dtype"]))
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
# A checkpoint file: MAGIC, the SHA-256 of the rest as 64 hex digits and a newline, then torch.save's zip.
MAGIC = b"DERLCKPT2\n"
HEADER = len(MAGIC) + 65


class Damaged(BadInput):
    """A checkpoint file that is truncated, altered or not a derl checkpoint."""


def checkpoint_dir(run_dir: str) -> str:
    return os.path.join(run_dir, "checkpoints")


def list_checkpoints(run_dir: str) -> list:
    """Checkpoint paths, oldest first (regular files named ckpt_<step>.pt; symlinks are never taken)."""
    d = checkpoint_dir(run_dir)
    if not os.path.isdir(d) or os.path.islink(d):
        return []
    found = sorted((int(m.group(1)), name) for name in os.listdir(d) if (m := PATTERN.match(name))
                   and not os.path.islink(os.path.join(d, name)))
    return [os.path.join(d, name) for _, name in found]


def written_by_derl(path: str) -> bool:
    """A regular file (not a link) that starts with derl's checkpoint header."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


class _Hashing:
    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


def save(run_dir: str, payload: dict, step: int, keep: int = 3) -> str:
    """Writes ckpt_<step>.pt through a uniquely named temporary file (created exclusively) and a rename, then
    keeps the newest `keep`; pruning removes only checkpoint files derl wrote. `keep=0` writes best.pt."""
    d = checkpoint_dir(run_dir)
    if os.path.islink(d):
        raise BadInput(f"'{d}' is a symbolic link; derl does not write through links out of a run directory")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"ckpt_{step:012d}.pt" if keep else BEST)
    with replacing(path, "wb") as f:
        f.write(MAGIC + b"0" * 64 + b"\n")
        hashing = _Hashing(f)
        torch.save(to_safe(dict(payload, format=FORMAT, step=step)), hashing)
        f.seek(len(MAGIC))
        f.write(hashing.sha.hexdigest().encode())
    if not keep:
        return path
    for old in list_checkpoints(run_dir)[:-keep]:
        if written_by_derl(old):
            os.remove(old)
    return path


class _Slice(io.RawIOBase):
    """The file from `offset` on, as a seekable stream (torch.load reads the zip without a copy)."""

    def __init__(self, f, offset: int):
        self.f, self.offset = f, offset
        f.seek(offset)

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, buffer):
        return self.f.readinto(buffer)

    def seek(self, pos, whence=0):
        return self.f.seek(pos + self.offset if whence == 0 else pos, whence) - self.offset

    def tell(self):
        return self.f.tell() - self.offset


SCHEMA = {"format": int, "step": int, "algorithm": str, "alg": dict, "summary": dict, "rng": dict}


def load(path: str) -> dict:
    """Loads a checkpoint without executing anything from it, after checking its checksum and schema.
    Damaged (a BadInput) names the file when it cannot."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise BadInput(f"checkpoint '{path}' does not exist") from None
    except OSError as exc:
        if os.path.islink(path):
            raise BadInput(f"checkpoint '{path}' is a symbolic link; derl does not follow links") from None
        raise BadInput(f"cannot read checkpoint '{path}': {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise Damaged(f"checkpoint '{path}' is not a regular file")
        header = f.read(HEADER)
        if len(header) < HEADER or not header.startswith(MAGIC):
            raise Damaged(f"checkpoint '{path}' is damaged or not a derl checkpoint (no derl header)")
        expected = header[len(MAGIC):-1]
        sha = hashlib.sha256()
        for chunk in iter(lambda: f.read(1 << 22), b""):
            sha.update(chunk)
        if sha.hexdigest().encode() != expected:
            raise Damaged(f"checkpoint '{path}' is damaged (its checksum does not match its contents)")
        try:
            data = torch.load(io.BufferedReader(_Slice(f, HEADER)), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInput(f"checkpoint '{path}' carries pickled code and was not loaded "
                           f"(derl loads weights only): {msg}") from None
        except Exception as exc:
            raise Damaged(f"checkpoint '{path}' is damaged ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise Damaged(f"'{path}' is not a derl checkpoint of format {FORMAT}")
    for key, kind in SCHEMA.items():
        if not isinstance(data.get(key), kind) or isinstance(data.get(key), bool):
            raise Damaged(f"checkpoint '{path}' has no valid '{key}' ({kind.__name__} expected)")
    if data["step"] < 0:
        raise Damaged(f"checkpoint '{path}' has a negative step")
    return from_safe(data)


def best_path(run_dir: str) -> str:
    return os.path.join(checkpoint_dir(run_dir), BEST)


def newest_intact(run_dir: str, notice=None) -> tuple:
    """(path, state) of the newest checkpoint that loads; each damaged newer one is reported to `notice`.
    (None, None) when the run has no checkpoint at all; BadInput when all are damaged."""
    found = list_checkpoints(run_dir)
    damaged = []
    for path in reversed(found):
        try:
            return path, load(path)
        except Damaged as exc:
            damaged.append(str(exc))
            if notice is not None:
                notice(f"derl: {exc}; trying the previous one")
    if damaged:
        raise BadInput(f"every checkpoint of '{run_dir}' is damaged ({len(damaged)}; newest: {damaged[0]})")
    return None, None


def fingerprint(record: dict) -> dict:
    """What a checkpoint must agree on with config.json to be resumed (total_steps may grow)."""
    hparams = {k: v for k, v in record.hyperparameters.items() if k != "total_steps"}
    return {"algorithm": record.algorithm, "env_id": record.env_id, "seed": record.seed,
            "hyperparameters": hparams}


def differences(saved: dict, now: dict) -> list:
    out = []
    for key in ("algorithm", "env_id", "seed"):
        if saved.get(key) != now[key]:
            out.append(f"{key} {saved.get(key)!r} -> {now[key]!r}")
    old, new = saved.get("hyperparameters", {}), now["hyperparameters"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    return out
