"""Env steps/s of PPO on HalfCheetah-v5 from the local vector env and from 1 and 2 Ray workers, with the
measured per-rollout costs: collection (local) or weight broadcast + rollout gather (Ray), and learner time.
Every configuration has 4 envs in all and the same hyperparameters, so the learner does the same work; each
runs in its own child process (a fresh Ray); training time starts at the first rollout (Ray's start-up is
reported apart). Prints a table and the scaling it implies for N machines.

    python bench/ray_scaling.py [--steps 16384] [--repeats 2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {"local (4 envs)": [], "ray 1 worker x 4 envs": ["--workers", "1", "--envs-per-worker", "4"],
           "ray 2 workers x 2 envs": ["--workers", "2", "--envs-per-worker", "2"]}
HPARAMS = {"num_envs": "4", "nsteps": "512", "num_epochs": "4", "num_minibatches": "4"}


def child(args, steps):
    """Runs one configuration in this process; prints JSON with its timings."""
    from derl_core.rl import rollout as runners
    from derl_core.run import distributed
    from derl_core.plugins import registry
    from derl_core.run.session import train
    timing = {"collect": 0.0, "rollouts": 0}
    real_collect = runners.EnvRunner.collect

    def timed_collect(self, nsteps=None):
        t = time.perf_counter()
        timing.setdefault("start", t)   # training time starts at the first rollout (Ray's start-up excluded)
        try:
            return real_collect(self, nsteps)
        finally:
            timing["collect"] += time.perf_counter() - t
            timing["rollouts"] += 1
    runners.EnvRunner.collect = timed_collect
    real_close = distributed.RemoteEnvs.close

    def close(self, **kwargs):
        timing.update(broadcast=self.timing["broadcast"], gather=self.timing["gather"], end=time.perf_counter())
        return real_close(self, **kwargs)
    distributed.RemoteEnvs.close = close
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else None
    per = int(args[args.index("--envs-per-worker") + 1]) if "--envs-per-worker" in args else None
    logdir = os.path.join(tempfile.mkdtemp(prefix="derl-bench-"), "run")
    t = time.perf_counter()
    train(registry(), "ppo", "HalfCheetah-v5", dict(HPARAMS, total_steps=str(steps)), logdir=logdir, seed=1,
          device="cpu", progress=False, echo=lambda *a: None, workers=workers, envs_per_worker=per,
          checkpoint_every=10**9, preset="none")
    timing["wall"] = timing.pop("end", time.perf_counter()) - timing["start"]
    timing["startup"] = timing["start"] - t
    print("RESULT " + json.dumps(timing))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    if opts.child is not None:
        return child(opts.child, opts.steps)
    results = {name: [] for name in CONFIGS}
    for _ in range(opts.repeats):   # alternate the configurations
        for name, args in CONFIGS.items():
            out = subprocess.run([sys.executable, __file__, "--steps", str(opts.steps), "--child", *args],
                                 capture_output=True, text=True)
            line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if not line:
                sys.exit(f"{name} failed:\n{out.stderr[-2000:]}")
            results[name].append(json.loads(line[0][7:]))
    print(f"PPO HalfCheetah-v5, {opts.steps} env steps, 4 envs in all, rollouts of 2048 steps; "
          f"{os.cpu_count()} CPUs; medians of {opts.repeats}")
    print("| configuration | start-up | env steps/s (training) | per rollout: collection (incl. broadcast + "
          "gather) | broadcast | gather | learner (the rest) |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for name, runs in results.items():
        keys = ("wall", "collect", "broadcast", "gather", "startup")
        med = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in keys}
        rollouts = runs[0]["rollouts"]
        learner = (med["wall"] - med["collect"]) / rollouts
        summary[name] = dict(med, rollouts=rollouts, learner=learner)
        print(f"| {name} | {med['startup']:.1f} s | {opts.steps / med['wall']:.0f} | "
              f"{1000 * med['collect'] / rollouts:.0f} ms | "
              f"{1000 * med['broadcast'] / rollouts:.1f} ms | {1000 * med['gather'] / rollouts:.0f} ms | "
              f"{1000 * learner:.0f} ms |")
    two = summary["ray 2 workers x 2 envs"]
    per_worker = 2048 // 2                                          # samples one worker collects per rollout
    gather = two["gather"] / two["rollouts"]                        # workers collect in parallel
    bcast = two["broadcast"] / two["rollouts"]
    learn_per_sample = two["learner"] / 2048
    print(f"\nImplied scaling for N machines, one worker each collecting {per_worker} samples per rollout as here: "
          f"rollout time = broadcast {1000 * bcast:.1f} ms + gather {1000 * gather:.0f} ms (parallel, ~constant) "
          f"+ learner {1000 * learn_per_sample * per_worker:.0f} ms per worker's samples (grows with N)")
    for n in (1, 2, 4, 8, 16, 64):
        samples = n * per_worker
        print(f"  N={n:>3}: {samples / (bcast + gather + learn_per_sample * samples):.0f} env steps/s")
    print(f"  bound as N grows (learner-bound): {1 / learn_per_sample:.0f} env steps/s")


if __name__ == "__main__":
    main()
