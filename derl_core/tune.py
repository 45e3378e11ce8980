"""`derl tune ALG --env-id ID --trials N --search NAME=DIST ... [--seeds K] [--parallel P] [--storage URL]
[--ray-address ADDR] [--startup-trials S] [--logdir DIR] [--set NAME=VALUE] [--HYPERPARAMETER VALUE] [run options]`.

Hyperparameter search with Optuna (rl-baselines3-zoo's --optimize): the TPE sampler proposes, the median pruner
stops a trial whose evaluations (charts/eval_return, every --eval-every steps) fall below the median of earlier
trials at the same step. A trial is K normal derl runs (seeds S..S+K-1, one after another) in the tune directory;
its value is the mean over its runs of the evaluations in the last 10% of training.

Optuna's ask/tell with Ray tasks, not Ray Tune: the driver asks the study for a trial, runs it as a Ray task
(the same machinery as `derl sweep`, one CPU each, torch threads = CPUs / P), reports each evaluation its runs
log (read from their metrics.jsonl), asks the pruner, and tells the study the outcome: the study has one writer
(SQLite with several writers at once can end in "database is locked"). A pruned trial's task sees a mark the
driver leaves in the tune directory and stops its run at the next clean point, with a checkpoint. Ray Tune would wrap every run in its
own trainable, checkpoint and log-directory layout beside derl's run directory and its exact resume; with
ask/tell each trial stays a derl run that `derl resume` and `derl eval` understand.

The study lives in a database: SQLite in the tune directory (study.db) by default, --storage URL for one that
other machines join (each machine runs `derl tune` with the same --storage and its own --logdir; tune.json keeps
the URL with its password as ***, and `derl resume` takes the whole URL from $DERL_TUNE_STORAGE). `derl resume
TUNEDIR` continues the study: finished trials are kept, an interrupted one continues its runs from their
checkpoints. At the end: results.md / results.json (trials ranked, pruned ones marked), the best configuration
as a `derl ALG ...` command, and optimisation-history and parameter-importance figures (PNG)."""
from __future__ import annotations

import difflib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass

from . import config as cfg
from .errors import BadInput, printable
from .run import rundir
from .run.record import check_env_id, check_seed

PLAN = "tune.json"
DB = "study.db"
STUDY = "derl"
KINDS = ("int", "float", "log", "choice")
TUNE_RUN_OPTIONS = ("env_id", "logdir", "seed", "device", "checkpoint_every", "eval_every", "eval_episodes",
                    "env_kwargs", "env_wrapper", "frame_stack", "env_backend", "ray_address")


@dataclass
class Search:
    """One searched hyperparameter: int:LO:HI, float:LO:HI, log:LO:HI (log scale; int or float as the
    hyperparameter is) or choice:V1,V2,..."""
    name: str
    kind: str
    low: object = None
    high: object = None
    choices: tuple = ()

    def suggest(self, trial):
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices))
        if isinstance(self.low, int):
            return trial.suggest_int(self.name, self.low, self.high, log=self.kind == "log")
        return trial.suggest_float(self.name, self.low, self.high, log=self.kind == "log")

    def extremes(self) -> list:
        return list(self.choices) if self.kind == "choice" else [self.low, self.high]


def parse_search(spec, item: str, fixed: dict) -> Search:
    """`NAME=KIND:ARGS`, checked against the hyperparameter's declared type and bounds."""
    name, eq, dist = item.partition("=")
    name = name.strip().lstrip("-").replace("-", "_")
    kind, colon, args = dist.partition(":")
    kind = {"uniform": "float", "loguniform": "log", "categorical": "choice"}.get(kind.strip(), kind.strip())
    shown = printable(item)[:80]
    if not eq or not name or not colon or kind not in KINDS:
        raise BadInput(f"--search expects NAME=int:LO:HI, NAME=float:LO:HI, NAME=log:LO:HI or NAME=choice:A,B,..., "
                       f"got '{shown}'")
    known = {hp.name: hp for hp in spec.hyperparameters}
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f"; did you mean {close[0].replace('_', '-')}?" if close else ""
        raise BadInput(f"--search: {spec.name} has no hyperparameter '{printable(name)[:40]}'{hint}")
    if name in fixed:
        raise BadInput(f"--search: '{name.replace('_', '-')}' is both fixed and searched")
    hp = known[name]
    if kind == "choice":
        values = [checked(hp, v) for v in args.split(",") if v.strip()]
        if len(set(map(repr, values))) < 2:
            raise BadInput(f"--search {name.replace('_', '-')}: choice needs at least two different values")
        return Search(name, kind, choices=tuple(values))
    if hp.type not in (int, float):
        raise BadInput(f"--search {name.replace('_', '-')} is {hp.type.__name__}: only choice:... fits it")
    if kind == "int" and hp.type is not int:
        raise BadInput(f"--search {name.replace('_', '-')} is float: use float:LO:HI or log:LO:HI")
    if kind == "float" and hp.type is not float:
        raise BadInput(f"--search {name.replace('_', '-')} is int: use int:LO:HI or log:LO:HI")
    parts = args.split(":")
    if len(parts) != 2:
        raise BadInput(f"--search {name.replace('_', '-')}: {kind} expects LO:HI, got '{shown}'")
    low, high = (checked(hp, p) for p in parts)   # the declared type and bounds
    if not low < high:
        raise BadInput(f"--search {name.replace('_', '-')}: LO must be below HI, got {low} and {high}")
    if kind == "log" and low <= 0:
        raise BadInput(f"--search {name.replace('_', '-')}: a log scale needs LO > 0, got {low}")
    return Search(name, kind, low, high)


def checked(hp, raw: str):
    try:
        return cfg.parse_value(hp, raw.strip())
    except BadInput as exc:
        raise BadInput(f"--search {hp.name.replace('_', '-')}: {exc}") from None


def parse_searches(spec, items: list, fixed: dict) -> list:
    if not items:
        raise BadInput("derl tune needs at least one --search NAME=DIST (e.g. --search learning-rate=log:1e-5:1e-2)")
    searches = [parse_search(spec, item, fixed) for item in items]
    names = [s.name for s in searches]
    if len(set(names)) < len(names):
        raise BadInput(f"--search names {sorted(n for n in set(names) if names.count(n) > 1)[0]} twice")
    return searches


def check_plan(registry, plan: dict, searches: list):
    """Every extreme of every search resolves with the fixed settings (the joint checks of the plugin), before
    anything is written."""
    spec = registry.algorithm(plan["algorithm"])
    chain = registry.defaults_chain(registry.family_for(plan["env_id"]).name)
    base = cfg.resolve(spec, chain, dict(plan["fixed"]))
    for s in searches:
        for value in s.extremes():
            try:
                cfg.resolve(spec, chain, {**plan["fixed"], s.name: value})
            except BadInput as exc:
                raise BadInput(f"--search {s.name.replace('_', '-')}={value}: {exc}") from None
    return base


# ---------------------------------------------------------------------------------------------- the study
STORAGE_ENV = "DERL_TUNE_STORAGE"   # the whole --storage URL, password included, for `derl resume`


def storage_url(tune_dir: str, plan: dict, given: str | None = None) -> str:
    """The URL the study is opened with. tune.json keeps --storage with its password as *** (no secret on disk):
    the password comes from `given` (the --storage of this invocation) or, on resume, from $DERL_TUNE_STORAGE;
    either must be the kept URL once its password is hidden."""
    kept = plan.get("storage")
    if kept is None:
        return "sqlite:///" + os.path.abspath(os.path.join(tune_dir, DB))
    if ":***@" not in kept:   # no password (or a tune.json of derl <= 0.2.0, which kept it)
        return kept
    for url in (given, os.environ.get(STORAGE_ENV)):
        if url and shown(url) == kept:
            return url
    raise BadInput(f"the study's storage {printable(kept)[:80]} needs its password, which tune.json does not keep: "
                   f"set {STORAGE_ENV} to the whole URL")


def shown(text: str) -> str:
    """`text` (a storage URL, or a message quoting one) fit to print or to keep: the password of any
    `scheme://user:pass@` written as ***."""
    return re.sub(r"(://[^/:@\s]*:)[^@\s]*@", r"\1***@", str(text))


def open_study(url: str, plan: dict, create: bool = False):
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    kwargs = {"engine_kwargs": {"connect_args": {"timeout": 60}}} if url.startswith("sqlite") else {}
    try:
        storage = optuna.storages.RDBStorage(url, **kwargs)
    except Exception as exc:
        sqlite = url.startswith("sqlite:///")
        what = f"the study database '{printable(url[10:])[-160:]}'" if sqlite else f"--storage {shown(printable(url))[:80]}"
        raise BadInput(f"{what} cannot be opened: {type(exc).__name__}: "
                       f"{shown(str(exc).splitlines()[0] if str(exc) else '')[:120]}") from None
    sampler = optuna.samplers.TPESampler(seed=plan["seed"], n_startup_trials=plan["startup_trials"])
    pruner = optuna.pruners.MedianPruner(n_startup_trials=plan["startup_trials"],
                                         n_warmup_steps=plan["warmup_steps"])
    if create:
        return optuna.create_study(study_name=plan["study"], storage=storage, sampler=sampler, pruner=pruner,
                                   direction="maximize", load_if_exists=True)
    return optuna.load_study(study_name=plan["study"], storage=storage, sampler=sampler, pruner=pruner)


def prune_mark(number: int) -> str:
    """The file in the tune directory by which the driver tells a trial's task to stop: pruned."""
    return f"trial-{number:04d}.pruned"


class StopWhenPruned:
    """A callback inside a trial's task: stops the run at its next clean point (with a checkpoint) once the
    driver has left the trial's prune mark in the tune directory. The task never writes to the study: the
    driver is its one writer (SQLite and several writers at once can end in "database is locked")."""

    def __init__(self, tune_dir: str, number: int):
        self.path = os.path.join(tune_dir, prune_mark(number))

    def __call__(self, step, metrics) -> bool:
        return os.path.lexists(self.path)


class Evaluations:
    """The driver's view of a running trial: the charts/eval_return rows its runs have logged, reported to the
    study once each (at the trial's step: the seed's offset + the env step); the pruner asked after each."""

    def __init__(self, study, number: int, trial_id: int, tune_dir: str, plan: dict):
        import optuna
        self.trial = optuna.trial.Trial(study, trial_id)
        self.number, self.tune_dir, self.plan = number, tune_dir, plan
        frozen = next(t for t in study.get_trials(deepcopy=False) if t.number == number)
        self.reported = set(frozen.intermediate_values)   # what a resumed trial reported before

    def poll(self) -> bool:
        """Reports what is new; True once the pruner says stop (the prune mark is then written)."""
        total = self.plan["total_steps"]
        for k in range(self.plan["seeds"]):
            run_dir = os.path.join(self.tune_dir, run_name(self.number, self.plan["seed"] + k))
            if not os.path.isfile(os.path.join(run_dir, rundir.METRICS)):
                continue
            try:
                rows = rundir.read_metrics(run_dir)
            except BadInput:
                continue
            for row in rows:
                step = k * total + row["step"]
                if "charts/eval_return" in row and step not in self.reported:
                    self.reported.add(step)
                    self.trial.report(float(row["charts/eval_return"]), step)
                    if self.trial.should_prune():
                        from .run.fence import Dir
                        with Dir(self.tune_dir) as d:
                            d.write(prune_mark(self.number), f"{step}\n")
                        return True
        return False


def run_score(run_dir: str, total: int) -> float:
    """The mean of the run's evaluations in its last 10% of training (the latest one when none falls there)."""
    evals = [(r["step"], r["charts/eval_return"]) for r in rundir.read_metrics(run_dir) if "charts/eval_return" in r]
    if not evals:
        return float("nan")
    last = [v for s, v in evals if s >= 0.9 * total]
    return float(sum(last) / len(last)) if last else float(evals[-1][1])


def run_name(number: int, seed: int) -> str:
    return f"trial-{number:04d}__seed={seed}"


def _run_trial(number: int, params: dict, tune_dir: str, plan: dict, threads: int) -> dict:
    """One trial inside a Ray task: its runs (fresh, continued from a checkpoint, or kept when finished), one
    after another; returns {"state": "complete"|"pruned", "value": ...}. It reads and writes no database."""
    import torch

    from .plugins import registry
    from .run import checkpoint as ckpt
    from .run.fence import Dir
    from .run.session import resume, train
    torch.set_num_threads(threads)
    overrides = {**plan["fixed"], **{k: str(v) for k, v in params.items()}}
    total = plan["total_steps"]
    quiet = dict(progress=False, echo=lambda *a: None, signals=False)
    stop = StopWhenPruned(tune_dir, number)
    scores = []
    for k in range(plan["seeds"]):
        if stop(None, None):
            return {"state": "pruned", "value": None}
        seed = plan["seed"] + k
        name = run_name(number, seed)
        run_dir = os.path.join(tune_dir, name)
        with Dir(tune_dir) as d:
            if d.kind(name) not in (None, "dir"):
                raise BadInput(f"'{run_dir}' is not a directory derl made (a {d.kind(name)}); derl does not train "
                               f"through it")
        if os.path.exists(os.path.join(run_dir, rundir.CONFIG)):
            _, state = ckpt.newest_intact(run_dir)
            if state is None or state["step"] < total:
                resume(registry(), run_dir, notice=lambda *a: None, callbacks=[stop], **quiet)
        else:
            train(registry(), plan["algorithm"], plan["env_id"], overrides, logdir=run_dir, seed=seed,
                  callbacks=[stop], threads=threads, **plan["options"], **quiet)
        if stop(None, None):
            return {"state": "pruned", "value": None}
        scores.append(run_score(run_dir, total))
    return {"state": "complete", "value": float(sum(scores) / len(scores))}


# ---------------------------------------------------------------------------------------------- the driver
def read_plan(tune_dir: str) -> dict:
    from .files import check, read_json_in
    from .run.fence import Dir
    with Dir(tune_dir) as d:
        plan = read_json_in(d, PLAN, "derl tune plan", limit=1 << 20)
    path = os.path.join(tune_dir, PLAN)
    check(plan, plan_fields(), path, "derl tune plan")
    if not all(isinstance(x, str) for x in [*plan["searches"], *plan["fixed"].values()]):
        raise BadInput(f"'{path}' is damaged: its searches and fixed values should be strings")
    return plan


def plan_fields() -> dict:
    """tune.json's fields, each with its type and range."""
    from .files import Field
    from .run.record import SEED_MAX, STEPS_MAX
    return {"algorithm": Field(str), "env_id": Field(str), "trials": Field(int, 1, 10**6), "searches": Field(list),
            "fixed": Field(dict), "options": Field(dict), "seeds": Field(int, 1, 1000), "seed": Field(int, 0, SEED_MAX),
            "parallel": Field(int, 1, 4096), "study": Field(str), "startup_trials": Field(int, 0, 10**6),
            "warmup_steps": Field(int, 0, STEPS_MAX), "total_steps": Field(int, 1, STEPS_MAX),
            "storage": Field((str, type(None)), optional=True)}


def is_tune(path: str) -> bool:
    return os.path.isfile(os.path.join(path, PLAN)) and not os.path.islink(os.path.join(path, PLAN))


def execute(registry, tune_dir: str, plan: dict, address: str | None, echo=print, storage: str | None = None):
    from .run.fence import Lock
    spec = registry.algorithm(plan["algorithm"])
    searches = parse_searches(spec, plan["searches"], plan["fixed"])   # a plan read back is checked again
    check_plan(registry, plan, searches)
    from .run.record import resolve_options
    resolve_options(plan["options"], where=os.path.join(tune_dir, PLAN))
    url = storage_url(tune_dir, plan, storage)   # a missing password fails before the lock is taken
    with Lock(tune_dir, "tune"):
        return _execute(registry, tune_dir, plan, searches, address, echo, url)


def _execute(registry, tune_dir, plan, searches, address, echo, url):
    import optuna
    from optuna.trial import TrialState
    study = open_study(url, plan, create=True)
    trials = study.get_trials(deepcopy=False)
    foreign = sorted({p for t in trials for p in t.params} - {s.name for s in searches})
    if foreign:   # a study.db copied from another tune, or a --storage shared by two: never mixed into this one
        raise BadInput(f"the study in {shown(printable(url))[:100]} holds trials of another search (parameters "
                       f"{', '.join(printable(p)[:30] for p in foreign[:3])}), not this plan's "
                       f"({', '.join(s.name for s in searches)})")
    known = len(trials)
    if known:   # a resumed (or joined) study: a sampler seeded afresh would draw its first points again
        study.sampler = optuna.samplers.TPESampler(seed=plan["seed"] + known, n_startup_trials=plan["startup_trials"])
    from .run.control import NotedSignals, Interrupted
    from .run.distributed import TASK_RETRIES, start_ray, stop_ray
    temp = start_ray(address)
    import ray
    signals = NotedSignals()
    try:
        signals.install()   # after ray.init, which installs handlers of its own
        cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        k = max(1, min(plan["parallel"], cpus))
        threads = max(1, cpus // k)
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_run_trial)
        # trials an interrupted session left running continue first (their runs resume from checkpoints)
        todo = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
        running, watching, pruned = {}, {}, set()
        last = 0.0
        while signals.signum is None:
            finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
            while len(running) < k and (todo or len(finished) + len(running) < plan["trials"]):
                # an interrupted trial may have been asked but not yet given all its values: suggest
                # returns a value already stored, and draws the missing ones
                trial = optuna.trial.Trial(study, todo.pop(0)._trial_id) if todo else study.ask()
                params = {s.name: s.suggest(trial) for s in searches}
                number = trial.number
                running[task.remote(number, params, tune_dir, plan, threads)] = number
                watching[number] = Evaluations(study, number, trial._trial_id, tune_dir, plan)
            if not running:
                break
            done, _ = ray.wait(list(running), num_returns=1, timeout=0.5)
            for number in list(watching):   # the evaluations so far, reported by the study's one writer
                if number not in pruned and watching[number].poll():
                    pruned.add(number)
            for ref in done:
                number = running.pop(ref)
                if number not in pruned and watching[number].poll():   # the last evaluations
                    pruned.add(number)
                watching.pop(number)
                try:
                    out = ray.get(ref)
                    if out["state"] == "pruned" or number in pruned:
                        out["state"] = "pruned"
                        study.tell(number, state=TrialState.PRUNED)
                    else:
                        study.tell(number, out["value"] if out["value"] == out["value"] else None,
                                   state=TrialState.COMPLETE if out["value"] == out["value"] else TrialState.FAIL)
                    echo(f"trial {number}: {out['state']}" + (f", value {out['value']:.2f}"
                                                             if out["value"] is not None and out["state"] ==
                                                             "complete" else ""))
                except Exception as exc:   # a failed trial is marked and reported; the others go on
                    cause = getattr(exc, "cause", None) or exc
                    study.tell(number, state=TrialState.FAIL)
                    echo(f"trial {number}: failed: {type(cause).__name__}: {str(cause).splitlines()[-1][:100]}")
            if time.time() - last > 10:
                last = time.time()
                echo(f"tune: {len(finished)}/{plan['trials']} trials finished, {len(running)} running")
    finally:
        signals.restore()
        stop_ray(temp, tune_dir)
    if signals.signum is not None:
        secret = f"{STORAGE_ENV}=URL " if shown(url) != url else ""   # its password is not in tune.json
        echo(f"interrupted; the study is kept in {shown(url)}; continue with: {secret}derl resume {tune_dir}")
        raise Interrupted(signals.signum)
    return summarize(tune_dir, plan, study, echo)


def best_command(plan: dict, params: dict) -> str:
    flags = {**plan["fixed"], **params}
    opts = {k: v for k, v in plan["options"].items() if v is not None and k != "checkpoint_every"}
    parts = [f"derl {plan['algorithm']} --env-id {plan['env_id']}"]
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in flags.items()]
    parts += [f"--{k.replace('_', '-')} {v}" for k, v in opts.items()]
    return " ".join(parts)


PRESET = "preset.json"   # the best trial's settings as a --preset file


def summarize(tune_dir: str, plan: dict, study, echo=print) -> dict:
    from optuna.trial import TrialState
    trials = study.get_trials(deepcopy=False)
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1, TrialState.FAIL: 2, TrialState.RUNNING: 3,
             TrialState.WAITING: 4}
    ranked = sorted(trials, key=lambda t: (order.get(t.state, 5), -(t.value if t.value is not None else -math.inf)
                                           if t.state == TrialState.COMPLETE else
                                           -(max(t.intermediate_values.values()) if t.intermediate_values else -1e300)))
    rows = []
    for t in ranked:
        inter = t.intermediate_values
        rows.append({"trial": t.number, "state": t.state.name.lower(), "value": t.value, "params": t.params,
                     "last_eval": inter[max(inter)] if inter else None, "evaluations": len(inter),
                     "runs": [run_name(t.number, plan["seed"] + k) for k in range(plan["seeds"])]})
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = max(complete, key=lambda t: t.value) if complete else None
    lines = [f"# derl tune: {plan['algorithm']} on {plan['env_id']}", "",
             f"{len(trials)} trials ({sum(r['state'] == 'complete' for r in rows)} complete, "
             f"{sum(r['state'] == 'pruned' for r in rows)} pruned, {sum(r['state'] == 'fail' for r in rows)} failed); "
             f"value: mean eval return in the last 10% of training, over {plan['seeds']} seed(s); "
             f"{plan['total_steps']} steps per run.", "",
             "| rank | trial | state | value | last eval | " + " | ".join(plan_names(plan)) + " |",
             "|-|-|-|-|-|" + "-|" * len(plan_names(plan))]
    for i, r in enumerate(rows, 1):
        value = f"{r['value']:.2f}" if r["value"] is not None else "-"
        last = f"{r['last_eval']:.2f}" if r["last_eval"] is not None else "-"
        params = " | ".join(str(r["params"].get(n, "-")) for n in plan_names(plan))
        lines.append(f"| {i} | {r['trial']} | {r['state']} | {value} | {last} | {params} |")
    command = best_command(plan, best.params) if best else None
    if best:
        lines += ["", f"Best: trial {best.number}, value {best.value:.2f}. Train it with:", "", f"    {command}", "",
                  f"or with its preset file ({PRESET}: the best trial's settings; derl_core.preset):", "",
                  f"    derl {plan['algorithm']} --env-id {plan['env_id']} --preset {os.path.join(tune_dir, PRESET)}"]
    figures = figures_of(tune_dir, study)
    if figures:
        lines += ["", "Figures: " + ", ".join(os.path.basename(f) for f in figures)]
    markdown = "\n".join(lines) + "\n"
    from .run.fence import Dir
    with Dir(tune_dir) as d:
        d.write("results.md", markdown)
        if best:   # the zoo's tune -> train loop: this file is a --preset
            d.write(PRESET, json.dumps({"algorithm": plan["algorithm"], "env_id": plan["env_id"],
                                        "hyperparameters": {**plan["fixed"], **best.params},
                                        "source": f"derl tune, trial {best.number}, value {best.value:.4g}"},
                                       indent=2) + "\n")
        d.write("results.json", json.dumps({"trials": rows, "best": {"trial": best.number, "value": best.value,
                                                                      "params": best.params, "command": command}
                                            if best else None}, indent=2))
    echo(markdown)
    return {"rows": rows, "best": best, "command": command, "figures": figures}


def plan_names(plan: dict) -> list:
    return [s.partition("=")[0].strip().lstrip("-").replace("-", "_") for s in plan["searches"]]


def figures_of(tune_dir: str, study) -> list:
    """optimization-history.png and param-importances.png (the latter once two trials are complete)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm
    from .run.fence import Dir
    out = []
    makers = [("optimization-history.png", lambda: ovm.plot_optimization_history(study)),
              ("param-importances.png", lambda: ovm.plot_param_importances(
                  study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()))]
    import io
    import warnings
    for name, make in makers:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = make()
            fig = ax.figure if hasattr(ax, "figure") else ax[0].figure
            fig.set_size_inches(8, 5)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=100)
            plt.close(fig)
        except Exception:   # too few complete trials for the figure
            continue
        with Dir(tune_dir) as d:
            d.write(name, buffer.getvalue())
        out.append(os.path.join(tune_dir, name))
    return out


def start(registry, alg: str, env_id: str, searches: list, fixed: dict, options: dict, tune: dict, echo=print):
    """Checks everything (the searches against the hyperparameters, the options), creates the tune directory
    with tune.json, and runs the study."""
    check_env_id(env_id)
    for module, extra, what in (("optuna", "tune", "Optuna"), ("ray", "ray", "Ray (its trials are Ray tasks)")):
        try:
            __import__(module)
        except ImportError:
            raise BadInput(f"derl tune needs {what}: pip install 'derl[{extra}]'") from None
    spec = registry.algorithm(alg)
    seed = options.pop("seed", 1)
    check_seed(seed)
    parsed = parse_searches(spec, searches, fixed)
    tune_dir = options.pop("logdir", None) or os.path.join("runs", f"tune__{env_id.replace('/', '-')}__{alg}__"
                                                                   f"{int(time.time())}")
    address = options.pop("ray_address", None)
    plan = {"algorithm": alg, "env_id": env_id, "trials": tune["trials"], "searches": list(searches),
            "fixed": {k: str(v) for k, v in fixed.items()}, "options": {}, "seeds": tune.get("seeds", 1),
            "seed": seed, "parallel": tune.get("parallel", 1), "study": STUDY,
            "storage": None if tune.get("storage") is None else shown(tune["storage"]),   # kept without its password
            "startup_trials": tune.get("startup_trials", 5), "warmup_steps": 0, "total_steps": 0}
    base = check_plan(registry, plan, parsed)
    total = base["total_steps"]
    options.setdefault("eval_every", max(1, total // 10))
    options.setdefault("eval_episodes", 5)
    from .run.record import resolve_options
    resolve_options(options)   # checked now; the run options a trial's runs take
    plan.update(options=options, total_steps=total, warmup_steps=total // 3)
    if is_tune(tune_dir):
        if read_plan(tune_dir) != json.loads(json.dumps(plan)):
            raise BadInput(f"'{tune_dir}' holds another study; pick another --logdir (or 'derl resume {tune_dir}')")
    else:
        rundir.check_logdir(tune_dir)
        if plan["storage"] is not None:
            open_study(tune["storage"], plan, create=True)   # a bad URL fails before the directory exists
        rundir.create_run(tune_dir, plan, PLAN)
    url = storage_url(tune_dir, plan, tune.get("storage"))
    echo(f"tune of {plan['trials']} trials in {tune_dir} (study in {shown(url)}; continue an "
         f"interrupted one with: derl resume {tune_dir})")
    return execute(registry, tune_dir, plan, address, echo, storage=url)


def resume_tune(registry, tune_dir: str, address: str | None = None, echo=print):
    plan = read_plan(tune_dir)
    echo(f"continuing the study in {tune_dir}")
    return execute(registry, tune_dir, plan, address, echo)


if __name__ == "__main__":   # pragma: no cover
    sys.exit("use: derl tune ...")
