"""Shared driver for the derl-vs-Stable-Baselines3 benchmarks. "final return" is the mean of the last 100
training episodes (both libraries' own episode statistics); last10_return the mean of the last 10.

Each run is a child process (same interpreter, one process tree) that times only its training (env creation
included, imports excluded) and prints one JSON line; the parent prints per-seed figures, medians and ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def child_derl(alg, env_id, seed, overrides, threads=None):
    from derl_core.plugins import registry
    from derl_core.run.session import train
    logdir = os.path.join(tempfile.mkdtemp(prefix="derl-bench-"), "run")
    start = time.perf_counter()
    train(registry(), alg, env_id, {k: str(v) for k, v in overrides.items()}, logdir=logdir, seed=seed,
          device="cpu", progress=False, echo=lambda *a: None, threads=threads,
          checkpoint_every=10**12, preset="none")   # the family defaults SB3's side is matched to   # one checkpoint, at the end
    wall = time.perf_counter() - start
    returns = [json.loads(l)["charts/episodic_return"] for l in open(os.path.join(logdir, "metrics.jsonl"))
               if "charts/episodic_return" in l]
    return {"wall": wall, "final_return": sum(returns[-100:]) / max(len(returns[-100:]), 1),
            "last10_return": sum(returns[-10:]) / max(len(returns[-10:]), 1)}


def child_sb3(make_model, total_steps, seed, threads=None):
    import torch
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    model = make_model(seed)
    model.learn(total_timesteps=total_steps)
    wall = time.perf_counter() - start
    eps = [ep["r"] for ep in model.ep_info_buffer]
    return {"wall": wall, "final_return": sum(eps) / max(len(eps), 1),
            "last10_return": sum(eps[-10:]) / max(len(eps[-10:]), 1)}


def main(script, runners: dict, steps: int, seeds=(1, 2, 3)):
    """`runners`: {name: callable(seed, steps) -> dict}; the first two are compared (ratio = first / second)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=list(seeds))
    parser.add_argument("--steps", type=int, default=steps, help="env steps per run")
    parser.add_argument("--only", nargs="+", help="run only these runners")
    parser.add_argument("--child", nargs=2, metavar=("RUNNER", "SEED"))
    args = parser.parse_args()
    if args.child:
        name, seed = args.child
        print("RESULT " + json.dumps(runners[name](int(seed), args.steps)), flush=True)
        return
    if args.only:
        runners = {k: v for k, v in runners.items() if k in args.only}
    results = {name: [] for name in runners}
    for seed in args.seeds:
        for name in runners:
            out = subprocess.run([sys.executable, script, "--child", name, str(seed), "--steps", str(args.steps)],
                                 capture_output=True, text=True)
            line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT ")), None)
            if line is None:
                print(out.stdout[-2000:], out.stderr[-4000:], file=sys.stderr)
                raise SystemExit(f"{name} seed {seed} failed")
            res = json.loads(line[7:])
            results[name].append(res)
            extra = "".join(f"  {k} {v:.1f}" for k, v in res.items() if k not in ("wall", "final_return"))
            print(f"seed {seed}  {name:<22} wall {res['wall']:6.1f}s  final return {res['final_return']:8.1f}"
                  f"{extra}", flush=True)
    print()
    med = {}
    for name, rs in results.items():
        med[name] = statistics.median(r["wall"] for r in rs)
        ret = statistics.median(r["final_return"] for r in rs)
        print(f"{name:<22} median wall {med[name]:6.1f}s  median final return {ret:8.1f}")
    if len(runners) >= 2:
        a, b = list(runners)[:2]
        print(f"wall-time ratio {a} / {b}: {med[a] / med[b]:.2f}  (target <= 0.5)")
