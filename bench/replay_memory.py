"""Resident memory of a 1M-transition Atari replay filled with real Breakout frames.

Plays Breakout (the training env: DeepMind preprocessing, 84x84 gray, 4-stack) with random actions for a
few thousand steps, then feeds those real rollouts — episode ends included — round and round into derl's
ReplayStorage until it holds 1M transitions, and prints resident memory before and after, and a sampling
check. Target: <= 8 GB (the floor, one 84x84 frame per transition, is 7.06 GB).

    python bench/replay_memory.py [--transitions 1000000] [--real-steps 4000]
"""
import argparse
import time

import numpy as np


def rss_gib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024 ** 2   # kB -> GiB
    return float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transitions", type=int, default=1_000_000)
    parser.add_argument("--real-steps", type=int, default=4000)
    args = parser.parse_args()

    from derl_core.env import make
    from derl_core.rl.replay import ReplayStorage
    from derl_core.rl.policy import PolicyStep
    from derl_core.rl.rollout import EnvRunner

    class Random:
        rng = np.random.default_rng(0)

        def act(self, obs):
            return PolicyStep(self.rng.integers(4, size=len(obs)))

    venv = make("BreakoutNoFrameskip-v4", 1, seed=0)
    runner = EnvRunner(venv, Random(), nsteps=1000, seed=0)
    chunks = [runner.collect() for _ in range(max(1, args.real_steps // 1000))]
    venv.close()
    ends = sum(int((c.terminated | c.truncated).sum()) for c in chunks)
    print(f"collected {len(chunks) * 1000} real Breakout steps ({ends} episode ends)")

    base = rss_gib()
    storage = ReplayStorage(args.transitions, 1, venv.single_observation_space, venv.single_action_space,
                            nstep=3, gamma=0.99, prioritized=True)
    start = time.perf_counter()
    i = 0
    while len(storage) < storage.T:
        storage.add(chunks[i % len(chunks)])
        i += 1
    fill = time.perf_counter() - start
    full = rss_gib()
    t = time.perf_counter()
    batch = storage.sample(32, beta=0.4)
    sample_ms = (time.perf_counter() - t) * 1e3
    assert batch.observations.shape == (32, 4, 84, 84)
    print(f"replay rows: {len(storage):,} (capacity {args.transitions:,}), filled in {fill:.0f}s")
    print(f"resident memory: {base:.2f} GiB before, {full:.2f} GiB full -> replay {full - base:.2f} GiB = "
          f"{(full - base) * 1024**3 / 1e9:.2f} GB (floor {args.transitions * 84 * 84 / 1e9:.2f} GB; target <= 8 GB)")
    print(f"sampling a prioritized batch of 32 stacked observations: {sample_ms:.1f} ms")


if __name__ == "__main__":
    main()
