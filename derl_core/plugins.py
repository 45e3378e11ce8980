"""Plugin discovery through entry points (group "derl") and the registry of algorithms and env families.

Each entry point is loaded on its own, so a broken plugin is reported (``derl list`` shows it) instead of
taking the others down. Nothing here imports torch or gymnasium.
"""
from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import BadInput

GROUP = "derl"


class DuplicateAlgorithm(BadInput):
    """Two distributions register one algorithm name: derl refuses to guess which one is meant."""


@dataclass
class Registry:
    algorithms: dict = field(default_factory=dict)
    families: dict = field(default_factory=dict)
    broken: list = field(default_factory=list)   # (distribution, entry point, error)
    pm: pluggy.PluginManager | None = None

    def algorithm(self, name: str):
        if name in self.algorithms:
            return self.algorithms[name]
        installed = ", ".join(sorted(self.algorithms)) or "none"
        close = difflib.get_close_matches(name, list(self.algorithms), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise BadInput(f"unknown algorithm '{name}' (installed: {installed}){hint}")

    def family_for(self, env_id: str):
        for fam in sorted(self.families.values(), key=lambda f: -f.priority):
            if fam.matches(env_id):
                return fam
        raise BadInput(f"no env family accepts env id '{env_id}'")

    def defaults_chain(self, family_name: str) -> list:
        chain, name = [], family_name
        while name and name not in chain:
            chain.append(name)
            fam = self.families.get(name)
            name = fam.defaults_from if fam else None
        return chain


def _dist_of(ep) -> tuple:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist is not None else ("?", "")


def build_registry(eps=None) -> Registry:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm=pm)
    eps = entry_points(group=GROUP) if eps is None else eps
    for ep in sorted(eps, key=lambda e: e.name):
        dist, version = _dist_of(ep)
        module = None
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            _collect(pm, ep.name, module, dist, version, reg)
        except DuplicateAlgorithm:
            raise
        except Exception as exc:  # a plugin that fails to import or register is reported, not fatal
            if module is not None and pm.is_registered(module):
                pm.unregister(module)
            reg.broken.append((dist, ep.name, f"{type(exc).__name__}: {exc}"))
    return reg


def _collect(pm, plugin_name, module, dist, version, reg):
    def register_algorithm(spec):
        if spec.name in reg.algorithms:
            other = reg.algorithms[spec.name].distribution
            raise DuplicateAlgorithm(
                f"algorithm '{spec.name}' is registered by two distributions: {other} and {dist}; "
                f"uninstall one of them")
        spec.distribution, spec.version = dist, version
        reg.algorithms[spec.name] = spec

    def register_family(spec):
        spec.distribution = dist
        reg.families[spec.name] = spec

    for hook, register in (("derl_register_algorithms", register_algorithm),
                           ("derl_register_env_families", register_family)):
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin_name:
                impl.function(register=register)


@functools.lru_cache(maxsize=1)
def registry() -> Registry:
    return build_registry()
