"""What derl does with each kind of gymnasium space, in one place (no torch here).

Observations are *trees*: a plain array for Box, Discrete, MultiDiscrete and MultiBinary spaces, a dict of
them for Dict spaces, a tuple for Tuple spaces (nested as deep as the space is). Everything that stores,
indexes or moves observations goes through `tree_map`, so a Dict observation is never flattened into one
array: each key keeps its own shape and dtype (uint8 images stay uint8 in a replay).
"""
from __future__ import annotations

import numpy as np

from ..spec import ACTION_KINDS, OBSERVATION_KINDS  # noqa: F401  (the kinds, beside what derl does with them)


def kind(space) -> str:
    return type(space).__name__


# ---------------------------------------------------------------- observation trees
def tree_map(fn, *trees):
    """`fn` applied leaf by leaf to trees of one structure (dicts, tuples, arrays)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: tree_map(fn, *(t[k] for t in trees)) for k in first}
    if isinstance(first, tuple):
        return tuple(tree_map(fn, *(t[i] for t in trees)) for i in range(len(first)))
    return fn(*trees)


def tree_stack(trees: list):
    return tree_map(lambda *leaves: np.stack(leaves), *trees)


def tree_set(dst, index, src):
    """dst[index] = src, leaf by leaf (in place)."""
    def put(d, s):
        d[index] = s
    tree_map(put, dst, src)


def leaves(space, path: str = "") -> list:
    """[(path, leaf space)] of an observation space: "" for a plain space, "key" / "0" / "key/1" inside."""
    if kind(space) == "Dict":
        return [item for k, sub in space.spaces.items() for item in leaves(sub, f"{path}/{k}" if path else k)]
    if kind(space) == "Tuple":
        return [item for i, sub in enumerate(space.spaces) for item in leaves(sub, f"{path}/{i}" if path else str(i))]
    return [(path, space)]


def flatten(space, tree) -> dict:
    """{path: leaf array} of an observation tree (see `leaves`)."""
    out = {}

    def walk(sub, node, path):
        if kind(sub) == "Dict":
            for k, s in sub.spaces.items():
                walk(s, node[k], f"{path}/{k}" if path else k)
        elif kind(sub) == "Tuple":
            for i, s in enumerate(sub.spaces):
                walk(s, node[i], f"{path}/{i}" if path else str(i))
        else:
            out[path] = node
    walk(space, tree, "")
    return out


def unflatten(space, flat: dict, path: str = ""):
    """The tree `flatten` took apart."""
    if kind(space) == "Dict":
        return {k: unflatten(s, flat, f"{path}/{k}" if path else k) for k, s in space.spaces.items()}
    if kind(space) == "Tuple":
        return tuple(unflatten(s, flat, f"{path}/{i}" if path else str(i)) for i, s in enumerate(space.spaces))
    return flat[path]


def rows(tree) -> int:
    """The batch size of a batch of observations: an array or tensor, or a Dict/Tuple tree of them."""
    while isinstance(tree, (dict, tuple, list)):
        tree = next(iter(tree.values())) if isinstance(tree, dict) else tree[0]
    return len(tree)


def batch_size_of(space, obs) -> int | None:
    """None for one observation of `space`, else the batch size (observations stacked on a leading axis)."""
    path, leaf = leaves(space)[0]
    array = np.asarray(flatten(space, obs)[path])
    return None if array.shape == tuple(leaf.shape) else len(array)


# ---------------------------------------------------------------- images
def image_layout(space):
    """For a uint8 Box image — (C, H, W) or (H, W, C), or K of them stacked on a new first axis by
    --frame-stack — the tuple (channels, height, width, channels_last, stacked); None for any other space.
    The channel axis is the smallest of the last three (as SB3 decides), ties going to channels-first."""
    if kind(space) != "Box" or space.dtype != np.uint8 or len(space.shape) not in (3, 4):
        return None
    stacked = space.shape[0] if len(space.shape) == 4 else 1
    a, b, c = space.shape[-3:]
    if c < a:   # channels-last
        return c * stacked, a, b, True, stacked
    return a * stacked, b, c, False, stacked


# ---------------------------------------------------------------- problems, as one line
def observation_problem(space, kinds=OBSERVATION_KINDS) -> str | None:
    """Why an algorithm that encodes observation kinds `kinds` cannot take `space` (None: it can): the
    container first (Dict, Tuple), then the first leaf it cannot encode."""
    if kind(space) in ("Dict", "Tuple") and kind(space) not in kinds:
        return f"{kind(space)} observations"
    for path, leaf in leaves(space):
        if kind(leaf) not in kinds:
            where = f" (key '{path}')" if path else ""
            return f"{kind(leaf)} observations{where}"
        if kind(leaf) == "Box" and not (np.issubdtype(leaf.dtype, np.number) or leaf.dtype == np.bool_):
            return f"Box observations of dtype {leaf.dtype}"
    return None


def action_problem(space, kinds) -> str | None:
    k = kind(space)
    if k not in kinds:
        return f"{k} actions"
    if k == "Box" and not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        return "Box actions with infinite bounds"
    return None


def env_actions(space, actions: np.ndarray) -> np.ndarray:
    """Policy actions as the env takes them: clipped to a Box's bounds (Gaussian policies sample unbounded
    actions; the loss keeps the raw ones), shifted by a Discrete's or MultiDiscrete's `start` (policies choose
    0..n-1 in each dimension), MultiBinary as int8."""
    k = kind(space)
    if k == "Box":
        return np.clip(actions, space.low, space.high)
    if k in ("Discrete", "MultiDiscrete"):
        start = np.asarray(getattr(space, "start", 0))
        return actions + start.astype(actions.dtype) if start.any() else actions
    if k == "MultiBinary":   # policies choose one flat row of bits per observation
        return actions.astype(space.dtype).reshape(len(actions), *space.shape)
    return actions
