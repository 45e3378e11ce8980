"""A run's record: what config.json holds, as one typed object, and the run options, declared once.

Run options are declared here as hyperparameters are in a plugin (name, type, help, default, bounds) and
parsed by the same resolver (`config.parse_value`) wherever they come from: the command line, `train()`,
config.json read back, a sweep. No torch, no gymnasium: the CLI reads these declarations for `--help`."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from .. import config as cfg
from ..env import BACKENDS   # no gymnasium import: env/__init__ imports it lazily
from ..errors import BadInput, printable
from ..files import Field, check
from ..spec import Hyperparameter

SEED_MAX = 2**32 - 1
STEPS_MAX = 2**62
UNSET = None   # a run option left to derl (the default shown in `derl ALG --help`)


@dataclass(frozen=True)
class RunOption:
    name: str
    type: type
    help: str
    default: object = UNSET
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    stored: bool = True        # kept in config.json's "run" (env id, logdir, seed and device have their own place)
    check: object = None       # a further check(value) raising BadInput (the seed's)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def parse(self, raw, strict: bool = False, where: str | None = None):
        """`raw` (a command-line string, a Python value, or with `strict` a value from config.json) checked;
        None stays None (unset)."""
        if raw is None:
            return None
        if self.type is str and isinstance(raw, str) and not raw:
            raise BadInput(f"{where or self.flag} must not be empty")
        hp = Hyperparameter(self.name, self.type, self.help, self.default, {}, self.low, self.high, self.choices)
        try:
            if self.check is not None and self.type is int and isinstance(raw, str):   # the seed: its own line
                try:
                    raw = int(raw.strip())
                except ValueError:
                    raise BadInput(f"{self.flag} expects int, got '{printable(raw)[:60]}'") from None
                self.check(raw)
                return raw
            value = cfg.parse_value(hp, raw, strict)
            if self.check is not None:
                self.check(value)
            return value
        except BadInput as exc:
            if where is None:
                raise
            raise BadInput(f"{where}: run option '{self.name}': {str(exc).removeprefix(self.flag + ' ')}") from None


RUN_OPTIONS = (
    RunOption("env_id", str, "gymnasium env id, or module:EnvId for your own (required)", stored=False),
    RunOption("logdir", str, "run directory (default runs/ENV__ALG__SEED__TIME)", stored=False),
    RunOption("seed", int, "seed of the envs, torch and numpy", 1, stored=False, check=lambda seed: check_seed(seed)),
    RunOption("device", str, "auto, cpu or cuda[:N]", "auto", stored=False),
    RunOption("checkpoint_every", int, "env steps between checkpoints (default: total/10, at most 250k)",
              UNSET, 1, 2**62),
    RunOption("keep_checkpoints", int, "checkpoints kept (the newest)", 3, 1, 10**6),
    RunOption("save_replay", bool, "save the replay with checkpoints (default: when under 1 GiB)"),
    RunOption("threads", int, "torch threads (default: the cores shared among derl trainings)", UNSET, 1, 1024),
    RunOption("workers", int, "Ray actors that step the envs", UNSET, 1, 4096),
    RunOption("envs_per_worker", int, "envs per Ray worker", UNSET, 1, 4096, stored=False),
    RunOption("ray_address", str, "join a running Ray cluster (with --workers)"),
    RunOption("eval_every", int, "evaluate deterministically every STEPS env steps", UNSET, 1, 2**62),
    RunOption("eval_episodes", int, "episodes per evaluation (with --eval-every; default 5)", UNSET, 1, 10**6),
    RunOption("stop_at_return", float, "stop once the mean return reaches R (last 100 training episodes, or "
              "the latest evaluation with --eval-every)", UNSET, -1e12, 1e12),
    RunOption("env_kwargs", str, "a JSON object of keyword arguments for gymnasium.make, e.g. "
              "'{\"is_slippery\": false}'", check=lambda text: env_kwargs_of(text)),
    RunOption("env_wrapper", str, "module:callable applied to each single env (after its family's own "
              "wrappers), e.g. my_pkg.wrappers:AddNoise", check=lambda text: check_env_wrapper(text)),
    RunOption("obs_keys", str, "the keys of a Dict observation to use, comma-separated (the others are dropped, "
              "in training, evaluation and load().predict), e.g. image,direction for MiniGrid's text mission",
              check=lambda text: obs_keys_of(text)),
    RunOption("frame_stack", int, "stack the last K observations (image envs; the atari family stacks 4 itself)",
              UNSET, 2, 64),
    RunOption("track", bool, "track the run with Weights & Biases (needs derl[track]; WANDB_MODE=offline works "
              "without a network)", False),
    RunOption("wandb_project", str, "W&B project (with --track; default derl)"),
    RunOption("wandb_entity", str, "W&B entity (with --track)"),
    RunOption("wandb_group", str, "W&B group (with --track)"),
    RunOption("capture_video", bool, "record videos of episodes during training into RUN/videos/", False),
    RunOption("video_every", int, "with --capture-video: a video every N training episodes (default: after "
              "episodes 1, 8, 27, ..., 1000, then every 1000)", UNSET, 1, 10**9),
    RunOption("compile", bool, "torch.compile the algorithm's networks (compiling takes a while: it pays on long "
              "runs and GPUs; bench/results/latest.md)", False),
    RunOption("preset", str, "auto (the algorithm's tuned settings for the env id, where it has them), none (the "
              "family's defaults), or a JSON file of hyperparameters (derl tune writes one)", "auto"),
    RunOption("env_backend", str, "envpool or gymnasium (default: EnvPool for 4+ envs where it can)", UNSET,
              choices=tuple(BACKENDS)),
)
OPTIONS = {o.name: o for o in RUN_OPTIONS}
STORED = tuple(o.name for o in RUN_OPTIONS if o.stored)


# config.json's own fields (the hyperparameters are checked against the plugin by RunRecord.validate, the run
# options by their RunOption)
RECORD = {"algorithm": Field(str), "env_id": Field(str), "seed": Field(int, 0, SEED_MAX),
          "hyperparameters": Field(dict), "run": Field(dict, optional=True), "family": Field(str, optional=True),
          "device": Field(str, optional=True), "plugin": Field(str, optional=True),
          "plugin_version": Field(str, optional=True), "sources": Field(dict, optional=True)}


def resolve_options(raw: dict, strict: bool = False, where: str | None = None) -> dict:
    """Every stored run option, from `raw` or its default, each checked (unknown names refused)."""
    unknown = sorted(set(raw) - set(STORED))
    if unknown:
        raise BadInput(f"{where + ': ' if where else ''}unknown run option {printable(unknown[0])[:40]}")
    return {name: OPTIONS[name].parse(raw.get(name, OPTIONS[name].default), strict, where) for name in STORED}


def env_kwargs_of(text: str | None) -> dict:
    """--env-kwargs: a JSON object, or nothing."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"--env-kwargs must be a JSON object, got {printable(text)[:60]} ({exc})") from None
    if not isinstance(value, dict):
        raise BadInput(f"--env-kwargs must be a JSON object ({{\"name\": value, ...}}), got {printable(text)[:60]}")
    return value


def obs_keys_of(text: str | None) -> list | None:
    """--obs-keys a,b: the keys, in order, each named once."""
    if text is None:
        return None
    keys = [k.strip() for k in text.split(",")]
    if not all(keys) or len(set(keys)) < len(keys) or len(keys) > 256:
        raise BadInput(f"--obs-keys must be distinct keys separated by commas, got {printable(text)[:60]}")
    return keys


def check_env_wrapper(text: str):
    module, sep, attr = text.partition(":")
    if not sep or not module or not attr or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
        raise BadInput(f"--env-wrapper must be module:callable, got {printable(text)[:60]}")


def check_seed(seed):
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
        raise BadInput(f"--seed must be an integer in [0, {SEED_MAX}], got {printable(str(seed))[:40]}")


def check_env_id(env_id: str):
    if not env_id:
        raise BadInput("--env-id must not be empty")
    if not env_id.isprintable() or len(env_id) > 200:
        raise BadInput(f"env id {printable(repr(env_id))[:80]} is not a printable name of up to 200 characters")


@dataclass
class RunRecord:
    """What a run is: written to config.json when it starts, read back by resume, eval, plot and sweeps."""
    algorithm: str
    env_id: str
    seed: int
    hyperparameters: dict
    run: dict = field(default_factory=lambda: resolve_options({}))   # the stored run options, all of them
    family: str = ""
    device: str = "auto"
    plugin: str = ""
    plugin_version: str = ""
    sources: dict = field(default_factory=dict)   # hyperparameter -> flag, preset, family or default

    def env_options(self) -> dict:
        """What env.make needs besides the id, seed and counts: the same for training, evaluation and the
        Ray workers."""
        from ..model_options import normalization
        return {"normalize": normalization(self.hyperparameters), "backend": self.run["env_backend"],
                "env_kwargs": env_kwargs_of(self.run["env_kwargs"]), "wrapper": self.run["env_wrapper"],
                "frame_stack": self.run["frame_stack"], "obs_keys": obs_keys_of(self.run.get("obs_keys"))}

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data, path: str) -> "RunRecord":
        """config.json's shape and run options checked (the hyperparameters are checked by `validate`, which
        needs the plugin)."""
        check(data, RECORD, path, "derl run configuration")
        sources = data.get("sources", {})
        if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
            raise BadInput(f"{path}: 'sources' should be an object of hyperparameter: source")
        run = data.get("run", {})
        return cls(data["algorithm"], data["env_id"], data["seed"], dict(data["hyperparameters"]),
                   resolve_options({k: v for k, v in run.items() if k in STORED}, strict=True, where=path),
                   data.get("family", ""), data.get("device", "auto"), data.get("plugin", ""),
                   data.get("plugin_version", ""), dict(sources))

    def validate(self, registry, path: str = "config.json") -> tuple:
        """(spec, family): the same checks as the command line's, for a record read back; resolves the
        hyperparameters in place."""
        check_seed(self.seed)
        check_env_id(self.env_id)
        spec = registry.algorithm(self.algorithm)
        family = registry.family_for(self.env_id)
        known = {hp.name for hp in spec.hyperparameters}
        from ..model_options import LATER, upgraded   # options added after runs were made: their defaults are
        self.hyperparameters = upgraded(self.hyperparameters, known)   # what those runs used
        missing = sorted(known - set(self.hyperparameters) - set(LATER))
        unknown = sorted(set(self.hyperparameters) - known)
        if missing or unknown:
            what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                         f"unknown {', '.join(unknown)}" if unknown else "") if x)
            raise BadInput(f"{path}: the hyperparameters do not match {spec.name} ({printable(what)})")
        try:
            self.hyperparameters = cfg.resolve(spec, registry.defaults_chain(family.name), self.hyperparameters,
                                               strict=True)
        except BadInput as exc:
            raise BadInput(f"{path}: {exc}") from None
        workers = self.run.get("workers")
        if workers and self.hyperparameters["num_envs"] % workers:
            raise BadInput(f"{path}: num_envs {self.hyperparameters['num_envs']} is not a multiple of workers "
                           f"{workers}")
        return spec, family

