"""Plugin discovery through entry points (group "derl") and the registry of algorithms and env families.

Every call into a plugin (importing it, its hooks, an env family's `matches`) runs in isolation: whatever it
raises — `sys.exit()` included — or prints is caught, and the plugin is listed as broken (`derl list`) with
its distribution's name instead of taking derl down. A plugin's registrations count only if all its hooks
succeed. A name already taken (an algorithm or an env family) is refused: the later plugin is listed as
broken, naming the one that holds it; derl's own distributions load first. DERL_LOAD_PLUGINS=a,b loads only
the named distributions (or entry points) besides derl's core. Nothing here imports torch or gymnasium.
"""
from __future__ import annotations

import contextlib
import difflib
import functools
import io
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import BadInput
from .spec import ALGORITHM_APIS, BUILTIN_ENCODERS, FAMILY_APIS, PLUGIN_API, SpecError, api_problem, spec_problem

GROUP = "derl"
CORE = "derl"                 # derl_core's own distribution: its env families always load
OWN = {"derl", "derl-ppo", "derl-a2c", "derl-dqn", "derl-sac", "derl-td3", "derl-qrdqn", "derl-tqc", "derl-crossq"}
LOAD_VARIABLE = "DERL_LOAD_PLUGINS"


class DuplicateAlgorithm(BadInput):
    """Two distributions register one name: the later one is refused (and listed as broken)."""


class PluginAPIMismatch(BadInput):
    """A plugin written for another plugin API than this derl's (PLUGIN_API)."""


def describe(exc: BaseException) -> str:
    if isinstance(exc, PluginAPIMismatch):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"SystemExit: the plugin called sys.exit({exc.code!r})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip().rstrip(":")


@contextlib.contextmanager
def isolated():
    """Runs plugin code with its prints kept off derl's stdout/stderr (`derl list --json` stays JSON)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield sink


def call_plugin(fn, *args, **kwargs):
    """`fn(...)` in isolation; returns (result, None) or (None, "error text")."""
    try:
        with isolated():
            return fn(*args, **kwargs), None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:   # SystemExit too: a plugin never ends derl
        return None, describe(exc)


def call_hookimpl(impl, **kwargs):
    """A hook implementation with only the arguments it names (pluggy's rule: accept what you use)."""
    return impl.function(*[kwargs[name] for name in impl.argnames])


@dataclass
class Registry:
    algorithms: dict = field(default_factory=dict)
    families: dict = field(default_factory=dict)
    broken: list = field(default_factory=list)     # (distribution, entry point, error)
    problems: list = field(default_factory=list)   # (distribution, what is wrong) in plugins that load
    pm: pluggy.PluginManager | None = None
    skipped: list = field(default_factory=list)    # distributions left out by DERL_LOAD_PLUGINS
    lost: dict = field(default_factory=dict)       # algorithm name -> (dist, entry point, error) of a broken plugin
    dists: dict = field(default_factory=dict)      # plugin (entry point) name -> distribution
    encoders: dict = field(default_factory=dict)   # --encoder name -> EncoderSpec (plugins' image encoders)

    def algorithm(self, name: str):
        if name in self.algorithms:
            return self.algorithms[name]
        culprits = [self.lost[name]] if name in self.lost else [b for b in self.broken if _names(name, *b[:2])]
        for dist, ep, error in culprits:
            raise BadInput(f"algorithm '{name}' is installed but broken: its plugin {dist} (entry point "
                           f"{ep}) failed to load: {error}")
        installed = ", ".join(sorted(self.algorithms)) or "none"
        close = difflib.get_close_matches(name, list(self.algorithms), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise BadInput(f"unknown algorithm '{name}' (installed: {installed}){hint}")

    def family_for(self, env_id: str):
        for fam in sorted(self.families.values(), key=lambda f: -f.priority):
            matched, error = call_plugin(fam.matches, env_id)
            if error is not None:   # a family whose test raises is skipped, and reported by derl list
                self.broken.append((fam.distribution, f"env family {fam.name} (matches)", error))
                del self.families[fam.name]
                return self.family_for(env_id)
            if matched:
                return fam
        raise BadInput(f"no env family accepts env id '{env_id}'")

    def defaults_chain(self, family_name: str) -> list:
        chain, name = [], family_name
        while name and name not in chain:
            chain.append(name)
            fam = self.families.get(name)
            name = fam.defaults_from if fam else None
        return chain

    def add_commands(self, app):
        """Each plugin's derl_register_commands, in isolation."""
        if self.pm is None:
            return
        for impl in self.pm.hook.derl_register_commands.get_hookimpls():
            _, error = call_plugin(call_hookimpl, impl, app=app)
            if error is not None:
                dist = self.pm.get_name(impl.plugin)
                self.broken.append((self.dists.get(dist, dist), dist, f"derl_register_commands: {error}"))


def _names(name: str, dist: str, ep: str) -> bool:
    """An algorithm name that a broken plugin probably provided (derl-NAME, or entry point NAME)."""
    return name in (ep, dist, dist.removeprefix("derl-"), dist.removeprefix("derl_"))


def _dist_of(ep) -> tuple:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist is not None else ("?", "")


def _wanted() -> set | None:
    value = os.environ.get(LOAD_VARIABLE)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def build_registry(eps=None) -> Registry:
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm=pm)
    eps = entry_points(group=GROUP) if eps is None else eps
    wanted = _wanted()

    def order(ep):   # derl's own first: a third party cannot take one of its names
        dist = _dist_of(ep)[0]
        return (dist != CORE, dist not in OWN, ep.name)

    for ep in sorted(eps, key=order):
        dist, version = _dist_of(ep)
        if wanted is not None and dist != CORE and dist not in wanted and ep.name not in wanted:
            reg.skipped.append(dist)
            continue
        module, error = call_plugin(ep.load)
        if error is None:
            error = _register(pm, reg, ep.name, module, dist, version)
        if error is not None:
            reg.broken.append((dist, ep.name, error))
    for spec in reg.algorithms.values():
        unknown = sorted(set(spec.families()) - set(reg.families))
        if unknown:
            reg.problems.append((spec.distribution, f"algorithm {spec.name} has defaults for unknown env "
                                                    f"famil{'ies' if len(unknown) > 1 else 'y'} "
                                                    f"{', '.join(unknown)} (known: {', '.join(sorted(reg.families))})"))
    return reg


def _register(pm, reg, plugin_name, module, dist, version) -> str | None:
    """Runs one plugin's registration hooks into a staging area; commits only if all succeed."""
    try:
        pm.register(module, name=plugin_name)
    except BaseException as exc:   # e.g. a hook implementation that matches no spec
        return describe(exc)
    reg.dists[plugin_name] = dist
    algorithms, families, encoders = {}, {}, {}

    def register_algorithm(spec):
        problem = spec_problem(spec)
        if problem:
            raise SpecError(problem)
        if spec.name in reg.algorithms or spec.name in algorithms:
            holder = reg.algorithms.get(spec.name)
            raise DuplicateAlgorithm(f"algorithm '{spec.name}' is registered by two distributions: "
                                     f"{holder.distribution if holder else dist} and {dist}; {dist}'s is "
                                     f"refused (uninstall one of them)")
        problem = api_problem("algorithm", spec.name, getattr(spec, "api_version", 1), ALGORITHM_APIS)
        if problem:
            reg.lost[spec.name] = (dist, plugin_name, problem)
            raise PluginAPIMismatch(problem)
        spec.distribution, spec.version = dist, version
        algorithms[spec.name] = spec

    def register_family(spec):
        problem = spec_problem(spec)
        if problem:
            raise SpecError(problem)
        if spec.name in reg.families or spec.name in families:
            holder = reg.families.get(spec.name)
            raise DuplicateAlgorithm(f"env family '{spec.name}' is registered by two distributions: "
                                     f"{holder.distribution if holder else dist} and {dist}; {dist}'s is "
                                     f"refused (uninstall one of them)")
        problem = api_problem("env family", spec.name, getattr(spec, "api_version", 1), FAMILY_APIS)
        if problem:
            raise PluginAPIMismatch(problem)
        spec.distribution = dist
        families[spec.name] = spec

    def register_encoder(spec):
        problem = spec_problem(spec)
        if problem:
            raise SpecError(problem)
        if spec.name in BUILTIN_ENCODERS or spec.name in reg.encoders or spec.name in encoders:
            holder = reg.encoders.get(spec.name)
            raise DuplicateAlgorithm(f"image encoder '{spec.name}' is derl's own or registered by "
                                     f"{holder.distribution if holder else dist}; {dist}'s is refused")
        problem = api_problem("image encoder", spec.name, getattr(spec, "api_version", 1), (3,))
        if problem:
            raise PluginAPIMismatch(problem)
        spec.distribution = dist
        encoders[spec.name] = spec

    for hook, register in (("derl_register_algorithms", register_algorithm),
                           ("derl_register_env_families", register_family),
                           ("derl_register_encoders", register_encoder)):
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            _, error = call_plugin(call_hookimpl, impl, register=register)
            if error is not None:
                pm.unregister(module)
                for name in algorithms:
                    reg.lost.setdefault(name, (dist, plugin_name, error))
                return error
    reg.algorithms.update(algorithms)
    reg.families.update(families)
    reg.encoders.update(encoders)
    return None


@functools.lru_cache(maxsize=1)
def registry() -> Registry:
    return build_registry()
