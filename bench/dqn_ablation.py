"""DQN's extensions one at a time on CartPole-v1 (issue 18): which classic-family defaults learn?

    python bench/dqn_ablation.py [--seeds 5] [--parallel 1] [--steps 100000]

Each (variant, seed) is a derl run with the classic family's defaults and the variant's flags, evaluated
deterministically every 5k steps (10 episodes, a separate env); its score is the mean of the evaluations in
the last 10% of training. A finished (variant, seed) is stored at once in bench/results/dqn_ablation/ with the
commit it ran on, and the next invocation runs only what is missing (seeds in rounds: every variant's seed 0,
then seed 1, ...). The table (IQM and mean with 95% bootstrap intervals over seeds) is rebuilt from what is
stored into bench/results/dqn_ablation.md. Never in CI.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "results", "dqn_ablation")
# Every variant names its learning rate and schedule: the classic defaults changed (issue 18), the stored
# results stay reproducible from their flags.
OLD_LR = ["--learning-rate", "2.3e-3", "--anneal-lr", "false"]   # rl-zoo's, the classic default before the fix
NEW_LR = ["--learning-rate", "1e-3", "--anneal-lr", "true"]      # the classic default after it
OFF = ["--double", "false", "--dueling", "false", "--nstep", "1", "--prioritized", "false"]
ALL = ["--double", "true", "--dueling", "true", "--nstep", "3", "--prioritized", "true"]
VARIANTS = {   # each from plain DQN, one extension switched on; "all" is derl's classic default before the fix
    "plain": [*OFF, *OLD_LR],
    "+double": [*OFF, "--double", "true", *OLD_LR],
    "+dueling": [*OFF, "--dueling", "true", *OLD_LR],
    "+3-step": [*OFF, "--nstep", "3", *OLD_LR],
    "+PER": [*OFF, "--prioritized", "true", *OLD_LR],
    "all": [*ALL, *OLD_LR],
}
CANDIDATES = {   # candidate classic defaults: the ablation above shows learning that peaks, then collapses
    "all+anneal-lr": [*ALL, "--learning-rate", "2.3e-3", "--anneal-lr", "true"],
    "3-step+anneal-lr": [*OFF, "--nstep", "3", "--learning-rate", "2.3e-3", "--anneal-lr", "true"],
    "plain+anneal-lr": [*OFF, "--learning-rate", "2.3e-3", "--anneal-lr", "true"],
    "all+lr1e-3+anneal-lr": [*ALL, *NEW_LR],   # the new classic default
}
NEW = {   # the same ablation around the new default (lr 1e-3 annealed to 0): each extension's effect there
    "plain@new": [*OFF, *NEW_LR],
    "+double@new": [*OFF, "--double", "true", *NEW_LR],
    "+dueling@new": [*OFF, "--dueling", "true", *NEW_LR],
    "+3-step@new": [*OFF, "--nstep", "3", *NEW_LR],
    "+PER@new": [*OFF, "--prioritized", "true", *NEW_LR],
}
VARIANTS.update(CANDIDATES)
VARIANTS.update(NEW)
SEED_ORDER = [1, 0, 2, 3, 4, 5, 6, 7, 8, 9]   # seed 1 first: the README's `derl dqn --env-id CartPole-v1 --seed 1`


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return "?"


def result_path(variant: str, seed: int) -> str:
    return os.path.join(OUT, f"{variant}__seed{seed}.json")


def launch(variant: str, seed: int, steps: int, logroot: str):
    run = os.path.join(logroot, f"{variant}__{seed}")
    args = [os.path.join(os.path.dirname(sys.executable), "derl"), "dqn", "--env-id", "CartPole-v1", "--total-steps", str(steps),
            "--seed", str(seed), "--threads", "1", "--eval-every", str(steps // 20), "--eval-episodes", "10",
            "--logdir", run, *VARIANTS[variant]]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), run


def finish(variant, seed, steps, proc, run, started, code):
    _, err = proc.communicate()
    if proc.returncode != 0:
        print(f"{variant} seed {seed} failed: {err.strip()[-300:]}", file=sys.stderr)
        return
    rows = [json.loads(line) for line in open(os.path.join(run, "metrics.jsonl"))]
    evals = [(r["step"], r["charts/eval_return"]) for r in rows if "charts/eval_return" in r]
    train = [(r["step"], r["charts/episodic_return"]) for r in rows if "charts/episodic_return" in r]
    last = [v for s, v in evals if s > 0.9 * steps]
    out = {"variant": variant, "seed": seed, "steps": steps, "flags": VARIANTS[variant], "commit": code,
           "score": float(np.mean(last)), "evals": evals, "train_last20": float(np.mean([v for _, v in train[-20:]])),
           "seconds": round(time.time() - started, 1)}
    tmp = result_path(variant, seed) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, result_path(variant, seed))
    print(f"{variant} seed {seed}: score {out['score']:.1f} ({out['seconds']:.0f} s)", flush=True)


def iqm(x: np.ndarray) -> float:
    x = np.sort(x)
    n = len(x)
    lo, hi = int(np.floor(0.25 * n)), int(np.ceil(0.75 * n))
    return float(np.mean(x[lo:hi])) if hi > lo else float(np.mean(x))


def bootstrap(x: np.ndarray, stat, reps: int = 2000, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    values = [stat(rng.choice(x, len(x))) for _ in range(reps)]
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def table() -> str:
    lines = ["| variant | seeds | eval IQM [95% CI] | eval mean [95% CI] | seeds with eval >= 475 | last-20 training "
             "mean per seed | commits |", "|-|-|-|-|-|-|-|"]
    for variant in VARIANTS:
        found = [json.load(open(result_path(variant, s))) for s in range(100) if os.path.exists(result_path(variant, s))]
        if not found:
            continue
        x = np.array([r["score"] for r in found])
        lo, hi = bootstrap(x, iqm)
        mlo, mhi = bootstrap(x, np.mean)
        per_seed = ", ".join(f"{r['seed']}: {r['train_last20']:.0f}" for r in found)
        commits = ", ".join(sorted({r["commit"] for r in found}))
        lines.append(f"| {variant} | {len(x)} | {iqm(x):.1f} [{lo:.1f}, {hi:.1f}] | {np.mean(x):.1f} [{mlo:.1f}, "
                     f"{mhi:.1f}] | {int((x >= 475).sum())}/{len(x)} | {per_seed} | {commits} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    ap.add_argument("--table", action="store_true", help="only rebuild the table from what is stored")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    todo = [(v, s) for s in SEED_ORDER[:args.seeds] for v in VARIANTS if (args.only is None or v in args.only)
            and not os.path.exists(result_path(v, s))] if not args.table else []
    logroot = tempfile.mkdtemp(prefix="derl-dqn-ablation-")
    running = []
    while todo or running:
        while todo and len(running) < args.parallel:
            variant, seed = todo.pop(0)
            proc, run = launch(variant, seed, args.steps, logroot)
            running.append((variant, seed, proc, run, time.time(), commit()))   # the code it runs
        time.sleep(2)
        for item in [r for r in running if r[2].poll() is not None]:
            running.remove(item)
            finish(item[0], item[1], args.steps, *item[2:])
    text = (f"# DQN's extensions on CartPole-v1 ({args.steps} steps, the classic family's other defaults)\n\n"
            "Score: mean of the deterministic evaluations (10 episodes each, every 5% of training) in the last 10%."
            " Intervals: 95% percentile bootstrap over seeds. Rows: plain DQN and one extension at a time with "
            "rl-zoo's learning rate (2.3e-3, constant: the classic default before issue 18); candidate defaults; "
            "the same ablation at the new default's learning rate (1e-3 annealed linearly to 0, rows @new). Flags "
            "of each row: bench/dqn_ablation.py.\n\n" + table() + "\n")
    with open(os.path.join(HERE, "results", "dqn_ablation.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
