"""Plain descriptions of what plugins register. No torch, no gymnasium: `derl list` reads only these."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


PLUGIN_API = 3                      # the plugin API this derl speaks (docs/plugins.md, "Plugin API versions")
ALGORITHM_APIS = (2, 3)             # API 3 only added seams (TwinQ, BoxActions, PolyakUpdate, Every): 2 still loads
FAMILY_APIS = (1, 2, 3)             # env family modules did not change between API 1 and 3
MIGRATION = "docs/plugins.md, section 'Migrating from plugin API 1'"
API_CHANGES = {1: "Factory.build(env) replaced make_runner/make_alg, batches are typed (RolloutBatch, "
                  "ReplayBatch), Policy.act(obs) returns a PolicyStep and evaluate(obs, actions) feeds losses, "
                  "data sources (OnPolicyData, ExperienceReplay) replaced runner wrappers"}


def api_problem(kind: str, name: str, declared, accepted) -> str | None:
    """The one line for a plugin written against another plugin API, or None."""
    if declared in accepted:
        return None
    what = API_CHANGES.get(declared, "see the migration notes")
    return (f"{kind} '{name}' was written for derl's plugin API {declared!r}, this derl speaks API {PLUGIN_API} "
            f"({what}); see {MIGRATION}")


def import_user_module(module: str):
    """Imports a user's module (of a "module:EnvId" id, --env-wrapper, --model); like `python -c`, derl also
    looks in the current folder (a console script's sys.path does not hold it), after everything installed."""
    import os
    import sys
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        here = os.getcwd()
        if exc.name != module.split(".")[0] or here in sys.path:
            raise
        sys.path.append(here)
        importlib.import_module(module)


def load_object(path: str):
    """Import "package.module:attribute" (only when an algorithm or env family is actually used)."""
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


# the space kinds derl's core models and runners handle (derl_core/rl/spaces.py says how)
OBSERVATION_KINDS = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")
ACTION_KINDS = ("Box", "Discrete", "MultiDiscrete", "MultiBinary")
ACTION_MASK = "action_mask"   # the observation key action masks travel under (env/masks.py, rl.policy.masked)


@dataclass
class Hyperparameter:
    name: str                      # snake_case; the CLI flag is --name-with-dashes
    type: type                     # int, float, bool or str
    help: str
    default: Any                   # used for families without their own default
    family_defaults: dict = field(default_factory=dict)
    low: float | None = None       # inclusive bounds, checked by config.resolve
    high: float | None = None
    choices: Sequence[Any] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class AlgorithmSpec:
    name: str
    summary: str
    factory: str                   # "module:FactoryClass", imported only when the algorithm runs
    hyperparameters: list
    action_spaces: tuple = ("Discrete", "Box")
    observation_spaces: tuple = OBSERVATION_KINDS   # kinds the algorithm's models encode (Dict: per key)
    # check(hyperparameters) -> an error message, or None: values that each parse but cannot work together
    check: Callable[[dict], str | None] | None = None
    # memory(hyperparameters, env) -> bytes the algorithm will allocate; env: obs_shape, obs_itemsize,
    # action_shape, action_itemsize (plain values). derl refuses a run that cannot fit in the machine's memory.
    memory: Callable[[dict, dict], int] | None = None
    distribution: str = ""         # filled in by the registry: which installed distribution registered it
    version: str = ""
    # the plugin API the algorithm was written for (derl_core.PLUGIN_API); a spec that names none was written
    # for API 1 (derl 0.2, before versions were stated) and is refused with a pointer to the migration notes
    api_version: int = 1
    # tuned settings per env id beside the family defaults: {env_id: {hyperparameter: value}} (derl_core.preset;
    # `--preset none` leaves them out). Optional in plugin API 2: a spec without presets has none.
    presets: dict = field(default_factory=dict)

    def families(self) -> list:
        names = set()
        for hp in self.hyperparameters:
            names.update(hp.family_defaults)
        return sorted(names)


@dataclass
class EnvFamilySpec:
    name: str
    summary: str
    matches: Callable[[str], bool]  # cheap id test; must not import gymnasium
    module: str                     # module with resolve_id(), make_single(), wrap_vector()
    priority: int = 0               # higher is tried first; the catch-all family has the lowest
    vectorization: str = "sync"     # "sync" (in-process) or "async" (subprocess workers)
    defaults_from: str | None = None  # e.g. pybullet takes mujoco's hyperparameter defaults
    exact_resume: bool = False        # in-process envs whose whole state is plain numbers, arrays and RNGs
    distribution: str = ""
    api_version: int = 2              # env families: APIs 1 and 2 are the same (resolve_id, make_single, ...)


BUILTIN_ENCODERS = ("auto", "nature", "small", "impala")   # --encoder names a plugin's EncoderSpec cannot take


@dataclass
class EncoderSpec:
    """An image encoder a plugin ships (hook derl_register_encoders), chosen with --encoder NAME and listed by
    `derl list`. `target` is "module:callable", imported only when a network is built:
    callable(in_channels, height, width) -> nn.Module, taking float images (N, C, H, W), already in derl's
    channel order, frame-stacked and divided by --image-scale, and returning (N, ...) features; derl flattens
    them and adds a Linear to the algorithm's feature width and a ReLU, as for its own CNNs."""
    name: str
    summary: str
    target: str
    distribution: str = ""
    api_version: int = 3


def hp(name: str, type_: type, help: str, default, low=None, high=None, choices=None, **family_defaults):
    """Shorthand: hp("gamma", float, "discount", 0.99, 0, 1, classic=0.98)."""
    return Hyperparameter(name, type_, help, default, family_defaults, low, high, choices)


def derived(hyperparameters, changes: dict | None = None, drop=()) -> list:
    """Another algorithm's hyperparameter list for a variant of it (derl-qrdqn from DQN's, derl-crossq from
    SAC's): those named in `drop` left out, the defaults in `changes` replaced — {name: value} for every family,
    {name: {family: value}} for some."""
    out = []
    for h in hyperparameters:
        if h.name in drop:
            continue
        change = (changes or {}).get(h.name)
        if isinstance(change, dict):
            h = Hyperparameter(h.name, h.type, h.help, h.default, {**h.family_defaults, **change}, h.low, h.high,
                               h.choices)
        elif change is not None:
            h = Hyperparameter(h.name, h.type, h.help, change, {}, h.low, h.high, h.choices)
        out.append(h)
    return out


class SpecError(TypeError):
    """A plugin's spec with a field of the wrong type: that plugin is listed as broken, derl goes on."""


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
_HP_TYPES = (int, float, bool, str)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def spec_problem(spec) -> str | None:
    """What is wrong with a registered AlgorithmSpec or EnvFamilySpec (every field's type), or None."""
    def bad(field_, want):
        return f"{type(spec).__name__} field '{field_}' should be {want}, got {getattr(spec, field_, None)!r:.60}"
    if not isinstance(spec, (AlgorithmSpec, EnvFamilySpec, EncoderSpec)):
        return f"registered {type(spec).__name__}, not an AlgorithmSpec, EnvFamilySpec or EncoderSpec"
    if not isinstance(spec.name, str) or not spec.name or not set(spec.name) <= _NAME_CHARS \
            or not spec.name[0].isalpha() or len(spec.name) > 40:
        return bad("name", "a lowercase name of letters, digits, '-' and '_' (at most 40)")
    if not isinstance(spec.summary, str):
        return bad("summary", "a string")
    if not isinstance(spec.api_version, int) or isinstance(spec.api_version, bool):
        return bad("api_version", "an int")
    if isinstance(spec, EncoderSpec):
        if not isinstance(spec.target, str) or ":" not in spec.target:
            return bad("target", "'module:callable'")
        return None
    if isinstance(spec, EnvFamilySpec):
        if not callable(spec.matches):
            return bad("matches", "a callable")
        if not isinstance(spec.module, str) or not spec.module:
            return bad("module", "a module name")
        if not isinstance(spec.priority, int) or isinstance(spec.priority, bool):
            return bad("priority", "an int")
        if spec.vectorization not in ("sync", "async"):
            return bad("vectorization", "'sync' or 'async'")
        if spec.defaults_from is not None and not isinstance(spec.defaults_from, str):
            return bad("defaults_from", "a family name or None")
        if not isinstance(spec.exact_resume, bool):
            return bad("exact_resume", "a bool")
        return None
    if not isinstance(spec.factory, str) or ":" not in spec.factory:
        return bad("factory", "'module:FactoryClass'")
    for field_, kinds in (("action_spaces", ACTION_KINDS), ("observation_spaces", OBSERVATION_KINDS)):
        value = getattr(spec, field_)
        if not isinstance(value, (tuple, list)) or not all(isinstance(k, str) for k in value):
            return bad(field_, f"a tuple of space kinds ({', '.join(kinds)})")
    for field_ in ("check", "memory"):
        if getattr(spec, field_) is not None and not callable(getattr(spec, field_)):
            return bad(field_, "a callable or None")
    if not isinstance(spec.hyperparameters, (list, tuple)):
        return bad("hyperparameters", "a list of Hyperparameter")
    if not isinstance(spec.presets, dict) or not all(isinstance(k, str) and isinstance(v, dict)
                                                     for k, v in spec.presets.items()):
        return bad("presets", "a dict of env id: {hyperparameter: value}")
    seen = set()
    for hp_ in spec.hyperparameters:
        if not isinstance(hp_, Hyperparameter):
            return bad("hyperparameters", "a list of Hyperparameter")
        where = f"hyperparameter {hp_.name!r:.40}"
        if not isinstance(hp_.name, str) or not hp_.name.isidentifier() or hp_.name in seen:
            return f"{where}: its name should be a new snake_case identifier"
        seen.add(hp_.name)
        if hp_.type not in _HP_TYPES:
            return f"{where}: its type should be int, float, bool or str"
        if not isinstance(hp_.help, str):
            return f"{where}: its help should be a string"
        if not isinstance(hp_.family_defaults, dict) or not all(isinstance(k, str) for k in hp_.family_defaults):
            return f"{where}: its family defaults should be a dict of family names"
        for value in (hp_.default, *hp_.family_defaults.values()):
            ok = (isinstance(value, hp_.type) and not (isinstance(value, bool) and hp_.type is not bool)) \
                or (hp_.type is float and _number(value)) or value is None
            if not ok:
                return f"{where}: default {value!r:.40} is not a {hp_.type.__name__}"
        for bound in (hp_.low, hp_.high):
            if bound is not None and not _number(bound):
                return f"{where}: its bounds should be numbers or None"
        if hp_.choices is not None and not isinstance(hp_.choices, (list, tuple)):
            return f"{where}: its choices should be a list or None"
    return None
