"""Plain descriptions of what plugins register. No torch, no gymnasium: `derl list` reads only these."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


PLUGIN_API = 2                      # the plugin API this derl speaks (docs/plugins.md, "Plugin API versions")
FAMILY_APIS = (1, 2)                # env family modules did not change between API 1 and 2
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


def load_object(path: str):
    """Import "package.module:attribute" (only when an algorithm or env family is actually used)."""
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


# the space kinds derl's core models and runners handle (derl_core/rl/spaces.py says how)
OBSERVATION_KINDS = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")
ACTION_KINDS = ("Box", "Discrete", "MultiDiscrete", "MultiBinary")


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


def hp(name: str, type_: type, help: str, default, low=None, high=None, choices=None, **family_defaults):
    """Shorthand: hp("gamma", float, "discount", 0.99, 0, 1, classic=0.98)."""
    return Hyperparameter(name, type_, help, default, family_defaults, low, high, choices)
