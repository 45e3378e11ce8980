"""The one reader of every JSON file derl reads back: config.json, metrics.jsonl, sweep.json, tune.json, preset
files (and, through the same field checks, a checkpoint's metadata).

Whatever is in the file, reading it either returns a value of the expected shape or raises BadInput (exit 2)
with one line naming the file and what is wrong — never another exception:
- size: at most `limit` bytes are read (a larger file is refused, never loaded whole);
- text: UTF-8 only;
- JSON: NaN and ±Infinity refused where a file holds settings (`finite=True`), numbers too long for Python's
  int conversion refused, nesting at most `depth` levels (a deeper file would otherwise end in RecursionError);
- fields: `check(data, SCHEMA, ...)` checks each named field's type (a bool is not a number) and range.
No torch, no gymnasium: the CLI's help reads presets through this."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from .errors import BadInput, printable

MAX_BYTES, MAX_DEPTH, MAX_KEYS = 16 << 20, 16, 10_000


@dataclass(frozen=True)
class Field:
    """One field of a file: its type (a tuple for several), inclusive bounds for numbers, and whether the file
    may leave it out."""
    kind: type | tuple
    low: float | None = None
    high: float | None = None
    optional: bool = False

    def describe(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        names = " or ".join({int: "an integer", float: "a number", str: "a string", bool: "true or false",
                             dict: "an object", list: "a list", type(None): "null"}.get(k, k.__name__)
                            for k in kinds)
        if self.low is not None and self.high is not None:
            return f"{names} in [{_number(self.low)}, {_number(self.high)}]"
        return names


def _number(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e19 else f"{x:g}"


def _name(where: str) -> str:
    return f"'{printable(str(where))[:160]}'"


def parse_json(text, where: str, what: str, depth: int = MAX_DEPTH, finite: bool = True, keys: int = MAX_KEYS):
    """`text` (str or bytes) as JSON, bounded as the module says; BadInput naming `where` (a path) and `what`
    (the kind of file, e.g. "derl sweep plan") otherwise."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"{_name(where)} is not a {what} (not UTF-8 text)") from None

    def refuse_constant(name):
        raise ValueError(f"{name} is not a finite number")
    try:
        value = json.loads(text, parse_constant=refuse_constant if finite else None)
        _bounded(value, depth, finite, keys)
    except RecursionError:
        raise BadInput(f"{_name(where)} is not a {what} (nested too deeply)") from None
    except ValueError as exc:   # JSONDecodeError, huge integers, our bounds
        raise BadInput(f"{_name(where)} is not a {what} (not valid JSON: {printable(str(exc))[:80]})") from None
    return value


def _bounded(value, depth: int, finite: bool, keys: int = MAX_KEYS):
    """Iteratively (no recursion of our own): nesting at most `depth`, at most `keys` keys per object,
    finite floats where asked (json turns 1e400 into inf without parse_constant)."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            if level >= depth:
                raise ValueError(f"nested deeper than {depth} levels")
            if isinstance(item, dict):
                if len(item) > keys:
                    raise ValueError(f"an object with more than {keys} keys")
                stack.extend((v, level + 1) for v in item.values())
            else:
                stack.extend((v, level + 1) for v in item)
        elif finite and isinstance(item, float) and not math.isfinite(item):
            raise ValueError("a number is not finite")


def read_json(path: str, what: str, limit: int = 1 << 20, depth: int = 8, keys: int = MAX_KEYS):
    """A JSON file a user names (`what`: "--preset file"): a regular file of at most `limit` bytes, parsed by
    `parse_json`."""
    try:
        if not os.path.isfile(path):
            raise BadInput(f"{what} {_name(path)} is not a file")
        if os.path.getsize(path) > limit:
            raise BadInput(f"{what} {_name(path)} is larger than {limit >> 10} KiB")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except BadInput:
        raise
    except OSError as exc:
        raise BadInput(f"{what} {_name(path)} cannot be read ({type(exc).__name__})") from None
    if len(data) > limit:
        raise BadInput(f"{what} {_name(path)} is larger than {limit >> 10} KiB")
    return parse_json(data, path, what, depth, keys=keys)


def read_json_in(d, name: str, what: str, limit: int = MAX_BYTES, depth: int = MAX_DEPTH):
    """`name` in the fenced directory `d` (run.fence.Dir: a regular file, never a link or FIFO), parsed by
    `parse_json`."""
    return parse_json(d.read_bytes(name, limit=limit), d.join(name), what, depth)


def check(data, schema: dict, where: str, what: str) -> dict:
    """`data` as an object whose fields meet `schema` ({name: Field}); fields not named are left as they are."""
    if not isinstance(data, dict):
        raise BadInput(f"{_name(where)} is not a {what} (not a JSON object)")
    for key, spec in schema.items():
        if key not in data:
            if spec.optional:
                continue
            raise BadInput(f"{_name(where)} is damaged: it has no '{key}'")
        if not fits(data[key], spec):
            raise BadInput(f"{_name(where)} is damaged: '{key}' should be {spec.describe()}, "
                           f"got {printable(repr(data[key]))[:60]}")
    return data


def fits(value, spec: Field) -> bool:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        kinds = kinds + (int,)
    if not isinstance(value, kinds):
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if spec.low is not None and value < spec.low or spec.high is not None and value > spec.high:
            return False
    return True


def metric_row(line: str):
    """One line of metrics.jsonl as a row, or None: a JSON object with an integer step in [0, 2**62] whose other
    values are numbers (NaN allowed: a diverged loss is a fact to show). A crash's truncated last line, a line
    edited by hand into anything else, is skipped by the callers, never trusted."""
    if len(line) > 1 << 16:
        return None
    try:
        row = parse_json(line, "metrics.jsonl", "metrics row", depth=1, finite=False)
    except BadInput:
        return None
    if not isinstance(row, dict) or not fits(row.get("step"), Field(int, 0, 2**62)):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values()):
        return None
    return row
