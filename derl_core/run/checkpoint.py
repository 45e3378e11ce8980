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
import time

import numpy as np
import torch

from ..files import Field
from ..files import fits as field_fits
from ..errors import BadInput
from .fence import Dir

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


def step_of(name: str) -> int | None:
    m = PATTERN.match(name)
    return int(m.group(1)) if m else None


def _open_checkpoints(run: Dir, create: bool = False) -> Dir | None:
    """The run's checkpoints/ through the fence; None when there is none (and not `create`)."""
    kind = run.kind("checkpoints")
    if kind is None and not create:
        return None
    if kind not in (None, "dir"):
        what = "a symbolic link" if kind == "link" else "not a directory"
        raise BadInput(f"'{run.join('checkpoints')}' is {what}; derl keeps a run's checkpoints in a directory "
                       f"there (move it away to continue the run)")
    return run.sub("checkpoints", create=create)


def list_checkpoints(run_dir: str) -> list:
    """Checkpoint paths, oldest first: regular files named ckpt_<step>.pt (never links, FIFOs or directories).
    A run directory whose checkpoints/ is not a directory is BadInput."""
    if not os.path.isdir(run_dir):
        return []
    with Dir(run_dir) as run:
        d = _open_checkpoints(run)
        if d is None:
            return []
        with d:
            found = sorted((step_of(n), n) for n in d.names() if step_of(n) is not None and d.kind(n) == "file")
            return [d.join(name) for _, name in found]


def _derl_header(d: Dir, name: str) -> bool:
    try:
        with d.open_read(name) as f:
            return f.read(len(MAGIC)) == MAGIC
    except BadInput:
        return False


def written_by_derl(path: str) -> bool:
    """A regular file (not a link) that starts with derl's checkpoint header."""
    with Dir(os.path.dirname(path) or ".") as d:
        return _derl_header(d, os.path.basename(path))


class _Hashing:
    def __init__(self, f):
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data):
        self.sha.update(data)
        return self.f.write(data)

    def flush(self):
        self.f.flush()


def save(run_dir: str, payload: dict, step: int, keep: int = 3) -> str:
    """Writes ckpt_<step>.pt through the fence (checkpoints/ opened by descriptor, never through a link; a
    temporary name created exclusively, then renamed), then keeps the newest `keep` of derl's own checkpoints
    up to this step: a file that is not derl's, or that claims a later step, never counts and is never
    deleted. `keep=0` writes best.pt."""
    name = f"ckpt_{step:012d}.pt" if keep else BEST
    with Dir(run_dir) as run, _open_checkpoints(run, create=True) as d:
        with d.replacing(name, "wb") as f:
            f.write(MAGIC + b"0" * 64 + b"\n")
            hashing = _Hashing(f)
            torch.save(to_safe(dict(payload, format=FORMAT, step=step)), hashing)
            f.seek(len(MAGIC))
            f.write(hashing.sha.hexdigest().encode())
        if keep:
            mine = sorted((step_of(n), n) for n in d.names() if step_of(n) is not None and step_of(n) <= step
                          and d.kind(n) == "file" and _derl_header(d, n))
            for _, old in mine[:-keep]:
                d.remove(old)
        return d.join(name)


def supersede(run_dir: str, step: int) -> list:
    """One timeline: checkpoints (and best.pt) of steps after `step` — a future that a resume from `step`
    abandons — are moved into checkpoints/superseded/, so neither eval nor the next resume picks them up."""
    moved = []
    with Dir(run_dir) as run:
        d = _open_checkpoints(run)
        if d is None:
            return moved
        with d:
            later = [n for n in d.names() if d.kind(n) == "file" and (step_of(n) or -1) > step
                     and _derl_header(d, n)]   # a file that is not derl's is left where it is
            if d.kind(BEST) == "file":
                try:
                    if load(d.join(BEST))["step"] > step:
                        later.append(BEST)
                except BadInput:
                    later.append(BEST)
            if not later:
                return moved
            stamp = time.strftime("%Y%m%d-%H%M%S")
            with d.sub("superseded", create=True) as aside:
                for n in later:
                    d.rename(n, aside, f"{stamp}__{n}")
                    moved.append(n)
    return moved


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


SCHEMA = {"format": Field(int), "step": Field(int, 0, 2**62), "algorithm": Field(str), "alg": Field(dict),
          "summary": Field(dict), "rng": Field(dict)}


def load(path: str) -> dict:
    """Loads a checkpoint without executing anything from it, after checking its checksum and schema.
    Damaged (a BadInput) names the file when it cannot."""
    if not isinstance(path, str) or not os.path.basename(path):
        raise BadInput(f"checkpoint {path!r:.80} is not a file name")
    with Dir(os.path.dirname(path) or ".") as d:
        if d.kind(os.path.basename(path)) == "link":
            raise BadInput(f"checkpoint '{path}' is a symbolic link; derl does not follow links")
        if d.kind(os.path.basename(path)) not in ("file", None):
            raise Damaged(f"checkpoint '{path}' is not a regular file")
        if d.kind(os.path.basename(path)) is None:
            raise BadInput(f"checkpoint '{path}' does not exist")
        f = d.open_read(os.path.basename(path))   # O_NOFOLLOW | O_NONBLOCK, fstat: a regular file
    with f:
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
    for key, spec in SCHEMA.items():   # the same field checks as every file derl reads (derl_core.files)
        if not field_fits(data.get(key), spec):
            raise Damaged(f"checkpoint '{path}' has no valid '{key}' ({spec.describe()} expected)")
    named = step_of(os.path.basename(path))
    if named is not None and named != data["step"]:   # the step inside is the truth; the name only a hint
        raise Damaged(f"checkpoint '{path}' holds step {data['step']}, not the step its name says")
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
    from ..model_options import LATER, upgraded   # a checkpoint older than the model options used their defaults
    new = now["hyperparameters"]
    old = upgraded(saved.get("hyperparameters", {}), set(new))
    for key in sorted(set(old) | set(new)):
        if key in LATER and key not in old:
            continue
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    return out


# ------------------------------------------------------------------ does a checkpoint fit what was built?
class NotFinite(BadInput):
    """A checkpoint whose weights or optimizer state hold NaN or inf (exit 1, as a training that diverged)."""
    exit_code = 1


class Misfit(Exception):
    pass


def _kind(value) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return "array"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    if value is None:
        return "none"
    return type(value).__name__


def _as_tensor(array):
    """A tensor view of a numeric array; None for text or object arrays."""
    if isinstance(array, torch.Tensor):
        return array
    return None if array.dtype.kind in "OSU" else torch.from_numpy(np.ascontiguousarray(array))


def _array_fits(template, value, where: str):
    t, v = _as_tensor(template), _as_tensor(value)
    if t is None or v is None:   # text arrays (FrozenLake's map): equal kind, dtype and shape
        if t is not None or v is not None or template.dtype != value.dtype or template.shape != value.shape:
            raise Misfit(f"{where}: an array of another kind")
        return
    if v.dtype != t.dtype:
        raise Misfit(f"{where}: dtype {v.dtype}, this run has {t.dtype}")
    shape = tuple(t.shape)
    if v.dim() != len(shape) or any(a not in (b, 0) for a, b in zip(shape, v.shape)):
        raise Misfit(f"{where}: shape {tuple(v.shape)}, this run has {shape}")
    if v.is_floating_point() and not bool(torch.isfinite(v).all()):
        raise NotFinite(f"{where} is not finite")


def fits(template, value, where: str = "", exact_keys: bool = True):
    """Checks `value` (from a checkpoint) against `template` (the same state of the freshly built run): the
    same structure, arrays of the same dtype and shape (a 0 in the template's shape — rows a replay has not
    written — takes any length), finite floats, plain values of the same kind. Raises Misfit / NotFinite."""
    tk, vk = _kind(template), _kind(value)
    scalar = {"array", "number"}   # a 0-d array and a number are one thing (numpy scalars become floats)
    if {tk, vk} == scalar and (tk == "number" or np.ndim(template) == 0) and (vk == "number" or np.ndim(value) == 0):
        if isinstance(value, float) and value != value or vk == "array" and not bool(np.isfinite(np.asarray(value)).all()):
            raise NotFinite(f"{where} is not finite")
        return
    if tk == "array":
        if vk != "array":
            raise Misfit(f"{where}: {vk} where this run has an array")
        return _array_fits(template, value, where)
    if tk != vk and "none" not in (tk, vk):   # None stands for an unset value of any kind
        raise Misfit(f"{where}: {vk} where this run has {tk}")
    if tk == "dict":
        missing = [k for k in template if k not in value]
        extra = [k for k in value if k not in template]
        if missing or (extra and exact_keys):
            raise Misfit(f"{where}: {'missing ' + repr(missing[0]) if missing else 'unknown ' + repr(extra[0])}")
        for k in template:
            fits(template[k], value[k], f"{where}.{k}" if where else str(k), exact_keys)
    elif tk == "list":
        if len(template) != len(value):
            raise Misfit(f"{where}: {len(value)} items, this run has {len(template)}")
        for i, (t, v) in enumerate(zip(template, value)):
            fits(t, v, f"{where}[{i}]", exact_keys)
    elif tk == "number" and isinstance(value, float) and value != value:
        raise NotFinite(f"{where} is not finite")


def optimizer_fits(optimizer: torch.optim.Optimizer, value, where: str):
    """An optimizer's state against its own parameters: the same groups and hyperparameter kinds, and every
    per-parameter tensor (Adam's moments) shaped and typed as its parameter (a forged shape would make the
    fused step write out of bounds)."""
    template = optimizer.state_dict()
    if not isinstance(value, dict) or set(value) != {"state", "param_groups"}:
        raise Misfit(f"{where}: not an optimizer state")
    groups = value["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(template["param_groups"]):
        raise Misfit(f"{where}: other parameter groups")
    params = {}
    for g, (mine, theirs, live) in enumerate(zip(template["param_groups"], groups, optimizer.param_groups)):
        fits({k: v for k, v in mine.items()}, theirs, f"{where}.param_groups[{g}]", exact_keys=False)
        if list(theirs["params"]) != list(mine["params"]):
            raise Misfit(f"{where}.param_groups[{g}]: other parameters")
        params.update(zip(mine["params"], live["params"]))
    state = value["state"]
    if not isinstance(state, dict):
        raise Misfit(f"{where}.state: not a dict")
    needed = _state_keys(optimizer) if state else set()
    for key, entry in state.items():
        if key not in params or not isinstance(entry, dict):
            raise Misfit(f"{where}.state: an entry for no parameter ({key!r:.20})")
        if set(entry) != needed:
            raise Misfit(f"{where}.state[{key}]: holds {sorted(entry)}, this optimizer keeps {sorted(needed)}")
        p = params[key]
        for name, t in entry.items():
            at = f"{where}.state[{key}].{name}"
            if not isinstance(t, torch.Tensor):
                if not isinstance(t, (int, float)) or isinstance(t, bool):
                    raise Misfit(f"{at}: not a tensor or a number")
                continue
            if t.dim() == 0:   # a step count
                if not bool(torch.isfinite(t.float())):
                    raise NotFinite(f"{at} is not finite")
                continue
            _array_fits(p.detach(), t, at)


def _state_keys(optimizer) -> set:
    """The names of the per-parameter state `optimizer`'s class keeps (Adam: step, exp_avg, exp_avg_sq), found
    by one step of a throwaway copy on a one-element parameter."""
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    defaults = dict(optimizer.defaults)
    if defaults.get("fused"):
        defaults["fused"] = False   # the probe runs on the CPU whatever the run's device
    probe = type(optimizer)([p], **defaults)
    probe.step()
    return set(probe.state[p])


def check_fits(alg, state: dict, path: str):
    """BadInput naming the file and the first misfit when `state` (a checkpoint's "alg") does not fit `alg`
    as built: checked before anything is loaded into a module or optimizer. Modules, optimizers and derl's
    own objects (runner, replay, env wrappers) are checked exactly."""
    try:
        if not isinstance(state, dict):
            raise Misfit("alg: not a dict")
        for name, obj in alg.checkpointables.items():
            if name not in state:
                if name in getattr(alg, "OPTIONAL", ()):
                    continue
                raise Misfit(f"no state for '{name}'")
            if isinstance(obj, torch.optim.Optimizer):
                optimizer_fits(obj, state[name], name)
            elif isinstance(obj, torch.nn.Module) or type(obj).__module__.startswith("derl_core."):
                fits(obj.state_dict(), state[name], name)
            # a plugin's own objects (a data source with episodes of any length): their load_state_dict
            # checks what they need; a failure there is still one line ("does not fit this run")
    except NotFinite as exc:
        raise NotFinite(f"checkpoint '{path}' was not loaded: {exc} (its weights diverged or were altered)") from None
    except Misfit as exc:
        raise BadInput(f"checkpoint '{path}' does not fit this run: {exc}") from None
