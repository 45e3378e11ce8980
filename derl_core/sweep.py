"""`derl sweep ALG --env-id ID --seeds 0-4 [--set name=v1,v2 ...] [--max-parallel K] [--ray-address ADDR]`.

One run per combination of seed and --set values, each a normal run directory under one sweep directory,
run as Ray tasks (one CPU each, torch threads = the machine's CPUs / K, so runs sharing a machine never
thrash). While it runs, a live table of the runs' progress; at the end results.md / results.json (mean ± std
of the final return — the mean of each run's last 10 episodes — per combination) and one `derl plot` figure
per combination, with a band over seeds. sweep.json holds the plan: `derl resume SWEEPDIR` (or the same
command again) keeps finished runs and continues unfinished ones from their checkpoints."""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import sys
import time

from . import config as cfg
from .run import rundir
from .run.record import check_env_id, check_seed
from .errors import BadInput, printable

PLAN = "sweep.json"


def _fields():
    from .files import Field
    from .run.record import SEED_MAX, STEPS_MAX
    plan = {"algorithm": Field(str), "env_id": Field(str), "options": Field(dict), "runs": Field(list)}
    run = {"name": Field(str), "combo": Field(str), "seed": Field(int, 0, SEED_MAX),
           "total_steps": Field(int, 1, STEPS_MAX), "overrides": Field(dict)}
    return plan, run


PLAN_FIELDS, RUN_FIELDS = _fields()


def parse_seeds(text: str) -> list:
    seeds = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise BadInput(f"--seeds expects N, N-M or a comma list of them, got '{printable(text)}'")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo or hi - lo >= 10_000:
            raise BadInput(f"--seeds range '{part.strip()}' is empty or too long")
        seeds += range(lo, hi + 1)
    for seed in seeds:
        check_seed(seed)
    return sorted(set(seeds))


def parse_sets(items: list) -> dict:
    sets = {}
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip().lstrip("-").replace("-", "_")
        if not eq or not name or not values.strip():
            raise BadInput(f"--set expects name=v1,v2,..., got '{printable(item)}'")
        sets[name] = [v.strip() for v in values.split(",") if v.strip()]
    return sets


def combo_name(values: dict) -> str:
    return "__".join(f"{k}={v}" for k, v in values.items()) or "defaults"


def make_plan(registry, alg: str, env_id: str, seeds: list, sets: dict, overrides: dict) -> list:
    """Every run of the sweep, each checked by the resolver now (bad input fails before anything runs)."""
    spec = registry.algorithm(alg)
    family = registry.family_for(env_id)
    for name in sets:
        if name in overrides:
            raise BadInput(f"--{name.replace('_', '-')} is both fixed and swept (--set)")
    runs = []
    names, choices = list(sets), [sets[n] for n in sets]
    for values in itertools.product(*choices):
        combo = dict(zip(names, values))
        run_overrides = dict(overrides, **combo)
        hparams = cfg.resolve(spec, registry.defaults_chain(family.name), run_overrides)
        for seed in seeds:
            runs.append({"name": f"{combo_name(combo)}__seed={seed}", "combo": combo_name(combo), "seed": seed,
                         "overrides": {k: str(v) for k, v in run_overrides.items()},
                         "total_steps": hparams["total_steps"]})
    return runs


def _run_one(entry: dict, sweep_dir: str, alg: str, env_id: str, options: dict, threads: int) -> dict:
    """One run of the sweep, inside a Ray task: trained, continued, or left alone when finished."""
    import torch

    from .run import checkpoint as ckpt
    from .plugins import registry
    from .run.session import resume, train
    torch.set_num_threads(threads)
    run_dir = os.path.join(sweep_dir, entry["name"])
    from .run.fence import Dir
    with Dir(sweep_dir) as d:
        if d.kind(entry["name"]) not in (None, "dir"):   # a link (or a file) in a run's place: never through it
            raise BadInput(f"'{run_dir}' is not a directory derl made (a {d.kind(entry['name'])}); derl does not "
                           f"train through it")
    quiet = dict(progress=False, echo=lambda *a: None, signals=False)
    if os.path.exists(os.path.join(run_dir, rundir.CONFIG)):
        path, state = ckpt.newest_intact(run_dir)
        if state is not None and state["step"] >= entry["total_steps"]:
            return {"name": entry["name"], "status": "done"}
        resume(registry(), run_dir, notice=lambda *a: None, **quiet)
    else:
        train(registry(), alg, env_id, dict(entry["overrides"]), logdir=run_dir, seed=entry["seed"],
              device=options.get("device", "cpu"), threads=threads,
              checkpoint_every=options.get("checkpoint_every"), **quiet)
    return {"name": entry["name"], "status": "done"}


def progress_of(run_dir: str, total: int) -> tuple:
    """(step, last-10 mean return) read from the run's metrics.jsonl."""
    try:
        rows = rundir.read_metrics(run_dir)
    except (OSError, BadInput):
        return 0, float("nan")
    returns = [r["charts/episodic_return"] for r in rows if "charts/episodic_return" in r]
    step = max((r["step"] for r in rows), default=0)
    return min(step, total), (sum(returns[-10:]) / len(returns[-10:]) if returns else float("nan"))


def _table(plan, sweep_dir, status):
    from rich.table import Table
    table = Table(title=f"sweep {sweep_dir}")
    for col in ("run", "status", "steps", "return(10)"):
        table.add_column(col)
    for entry in plan:
        step, ret = progress_of(os.path.join(sweep_dir, entry["name"]), entry["total_steps"])
        table.add_row(entry["name"], status.get(entry["name"], "queued"), f"{step}/{entry['total_steps']}",
                      "-" if math.isnan(ret) else f"{ret:.1f}")
    return table


def read_plan(sweep_dir: str) -> dict:
    """sweep.json of `sweep_dir` (read through the fence), checked for its shape; every name derl will join to
    the sweep directory (a run's `name`, a combination's figure) must be a plain file name, so no plan can
    make derl write outside the sweep."""
    from .files import Field, check, read_json_in
    from .run.fence import Dir, check_name
    path = os.path.join(sweep_dir, PLAN)
    with Dir(sweep_dir) as d:
        record = read_json_in(d, PLAN, "derl sweep plan", limit=64 << 20)
    check(record, PLAN_FIELDS, path, "derl sweep plan")
    for entry in record["runs"]:
        check(entry, RUN_FIELDS, path, "derl sweep plan's run")
        if not all(isinstance(v, str) for v in entry["overrides"].values()):
            raise BadInput(f"'{path}' is damaged: a run's overrides should be strings")
        check_name(entry["name"], f"{path}: run name")
        check_name(f"{entry['combo']}.png", f"{path}: combination")
    return record


def execute(registry, sweep_dir: str, record: dict, max_parallel: int | None, address: str | None, echo=print):
    """Runs (or continues) the sweep planned in `record` in `sweep_dir`, then writes its results and figures,
    holding the sweep directory's lock (each run's own lock is taken by its training)."""
    from .run.fence import Lock
    with Lock(sweep_dir, "sweep"):
        return _execute(registry, sweep_dir, record, max_parallel, address, echo)


def _execute(registry, sweep_dir: str, record: dict, max_parallel: int | None, address: str | None, echo=print):
    plan, alg, env_id, options = record["runs"], record["algorithm"], record["env_id"], record["options"]
    from .run.control import NotedSignals, Interrupted
    from .run.distributed import TASK_RETRIES, start_ray, stop_ray
    temp = start_ray(address)
    import ray
    signals = NotedSignals()
    try:
        signals.install()   # after ray.init, which installs handlers of its own
        cpus = int(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        k = max(1, min(max_parallel or cpus, cpus, len(plan)))
        threads = max(1, cpus // k)
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_run_one)
        todo, running, status = list(plan), {}, {}
        live = None
        if sys.stdout.isatty():
            from rich.live import Live
            live = Live(_table(plan, sweep_dir, status), refresh_per_second=2)
            live.start()
        last_plain = 0.0
        try:
            while (todo or running) and signals.signum is None:
                while todo and len(running) < k:
                    entry = todo.pop(0)
                    running[task.remote(entry, sweep_dir, alg, env_id, options, threads)] = entry["name"]
                    status[entry["name"]] = "running"
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    name = running.pop(ref)
                    try:
                        ray.get(ref)
                        status[name] = "done"
                    except Exception as exc:   # a failed run is reported; the others go on
                        cause = getattr(exc, "cause", None) or exc
                        status[name] = f"failed: {type(cause).__name__}: {str(cause).splitlines()[-1][:80]}"
                if live is not None:
                    live.update(_table(plan, sweep_dir, status))
                elif time.time() - last_plain > 5 or not (todo or running):
                    last_plain = time.time()
                    finished = sum(s == "done" for s in status.values())
                    echo(f"sweep: {finished}/{len(plan)} runs done, {len(running)} running")
        finally:
            if live is not None:
                live.stop()
    finally:
        signals.restore()
        stop_ray(temp, sweep_dir)   # a run still going stops here; its last checkpoint is kept
    if signals.signum is not None:
        finished = sum(s == "done" for s in status.values())
        echo(f"interrupted ({signal.Signals(signals.signum).name}): {finished}/{len(plan)} runs done, the others "
             f"keep their last checkpoint; continue with: derl resume {sweep_dir}")
        raise Interrupted(signals.signum)
    failed = {n: s for n, s in status.items() if s.startswith("failed")}
    results = summarize(sweep_dir, plan)
    echo(results["markdown"])
    echo(f"results: {os.path.join(sweep_dir, 'results.md')}, figures: "
         f"{', '.join(os.path.basename(p) for p in results['figures'])}")
    if failed:
        detail = "; ".join(f"{n}: {s}" for n, s in failed.items())[:300]
        raise BadInput(f"{len(failed)} run(s) of the sweep failed ({detail}); 'derl resume {sweep_dir}' retries them")
    return results


def summarize(sweep_dir: str, plan: list) -> dict:
    """results.md / results.json (mean ± std of final returns per combination) and one figure per combination."""
    from .plot import plot
    combos = {}
    for entry in plan:
        run_dir = os.path.join(sweep_dir, entry["name"])
        _, final = progress_of(run_dir, entry["total_steps"])
        combos.setdefault(entry["combo"], []).append((entry["seed"], final, run_dir))
    rows, figures = [], []
    for combo, runs in combos.items():
        finals = [f for _, f, _ in runs if not math.isnan(f)]
        mean = sum(finals) / len(finals) if finals else float("nan")
        std = math.sqrt(sum((f - mean) ** 2 for f in finals) / len(finals)) if finals else float("nan")
        rows.append({"combination": combo, "seeds": [s for s, _, _ in runs], "final_returns": finals,
                     "mean": mean, "std": std})
        figure = os.path.join(sweep_dir, f"{combo}.png")
        if os.path.isfile(figure) and not os.path.islink(figure):
            os.remove(figure)   # derl's own figure of an earlier pass of this sweep
        try:
            plot([d for _, _, d in runs], figure, echo=lambda *a: None)
            figures.append(figure)
        except BadInput:
            pass   # no finished episode yet
    lines = ["| combination | seeds | final return (mean ± std of last-10 means) |", "|---|---|---|"]
    lines += [f"| {r['combination']} | {len(r['seeds'])} | {r['mean']:.1f} ± {r['std']:.1f} |" for r in rows]
    markdown = "\n".join(lines)
    rundir.write_atomic(os.path.join(sweep_dir, "results.md"), markdown + "\n")
    rundir.write_atomic(os.path.join(sweep_dir, "results.json"), json.dumps(rows, indent=2))
    return {"rows": rows, "markdown": markdown, "figures": figures}


def start(registry, alg: str, env_id: str, seeds: str, sets: list, overrides: dict, options: dict,
          logdir: str | None, max_parallel: int | None, address: str | None, echo=print):
    """Plans the sweep (all checked), creates its directory with sweep.json, and runs it."""
    check_env_id(env_id)
    plan = make_plan(registry, alg, env_id, parse_seeds(seeds), parse_sets(sets), overrides)
    sweep_dir = logdir or os.path.join("runs", f"sweep__{env_id.replace('/', '-')}__{alg}__{int(time.time())}")
    record = {"algorithm": alg, "env_id": env_id, "options": options, "runs": plan}
    if is_sweep(sweep_dir):
        if read_plan(sweep_dir) != json.loads(json.dumps(record)):
            raise BadInput(f"'{sweep_dir}' holds another sweep; pick another --logdir")
    else:
        rundir.check_logdir(sweep_dir)
        rundir.create_run(sweep_dir, record, PLAN)
    echo(f"sweep of {len(plan)} runs in {sweep_dir} (continue an interrupted one with: derl resume {sweep_dir})")
    return execute(registry, sweep_dir, record, max_parallel, address, echo)


def is_sweep(path: str) -> bool:
    return os.path.isfile(os.path.join(path, PLAN)) and not os.path.islink(os.path.join(path, PLAN))


def resume_sweep(registry, sweep_dir: str, max_parallel=None, address=None, echo=print):
    record = read_plan(sweep_dir)
    echo(f"continuing the sweep in {sweep_dir}")
    return execute(registry, sweep_dir, record, max_parallel, address, echo)
