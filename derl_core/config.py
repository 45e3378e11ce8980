"""Hyperparameters: defaults by env family, then user overrides, validated and typed."""
from __future__ import annotations

from .errors import BadInput

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def default_for(hp, families: list):
    """The default of `hp` for the first family in `families` (a family and those it inherits from)."""
    for fam in families:
        if fam in hp.family_defaults:
            return hp.family_defaults[fam]
    return hp.default


def parse_value(hp, raw):
    if not isinstance(raw, str):
        value = raw
    elif hp.type is bool:
        low = raw.lower()
        if low not in TRUE | FALSE:
            raise BadInput(f"{hp.flag} expects true or false, got '{raw}'")
        value = low in TRUE
    else:
        try:
            value = hp.type(float(raw)) if hp.type is int and _is_integral(raw) else hp.type(raw)
        except ValueError:
            raise BadInput(f"{hp.flag} expects {hp.type.__name__}, got '{raw}'") from None
    if hp.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, hp.type):
        raise BadInput(f"{hp.flag} expects {hp.type.__name__}, got {value!r}")
    if hp.choices is not None and value not in hp.choices:
        raise BadInput(f"{hp.flag} must be one of {', '.join(map(str, hp.choices))}, got {value!r}")
    if hp.low is not None and value < hp.low or hp.high is not None and value > hp.high:
        lo = "-inf" if hp.low is None else hp.low
        hi = "inf" if hp.high is None else hp.high
        raise BadInput(f"{hp.flag} must be in [{lo}, {hi}], got {value!r}")
    return value


def _is_integral(raw: str) -> bool:
    try:
        f = float(raw)
    except ValueError:
        return False
    return f.is_integer() and ("e" in raw.lower())   # allow 1e6 for step counts


def resolve(spec, families: list, overrides: dict) -> dict:
    """Defaults for the env family chain, then `overrides` ({name: raw string or value}), checked."""
    known = {hp.name: hp for hp in spec.hyperparameters}
    for name in overrides:
        if name not in known:
            import difflib
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean --{close[0].replace('_', '-')}?" if close else ""
            raise BadInput(f"unknown hyperparameter --{name.replace('_', '-')} for {spec.name}{hint}")
    resolved = {}
    for name, hp in known.items():
        raw = overrides[name] if name in overrides else default_for(hp, families)
        resolved[name] = parse_value(hp, raw)
    return resolved
