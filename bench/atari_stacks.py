"""derl's Atari training stacks side by side, without training anything: EnvPool with its own life starts
(derl's default until the Breakout ablation sb3-life-starts), gymnasium (the stack SB3's AtariWrapper mirrors)
and EnvPool with SB3's life starts (derl's default since). The learning benchmark found PPO Breakout scoring
higher on gymnasium than on EnvPool's own starts with the same algorithm, flags and seeds (learning.md, revision
1); this looked for where the stacks differ in what a learner sees, and found the life starts.

Per stack, from the same number of agent steps, under uniform-random actions (seeded) and under NOOP only (a
life then lasts as long as the stack's own life-start actions keep the ball in play): whole games (score, agent
steps), internal episodes (a lost life ends one in training), agent steps per internal episode, the reward per
step, the latest frame's mean intensity and the share of its pixels that changed from the frame before, and at
each internal episode's first observation how many of its 4 stacked frames are zero padding, how many distinct
frames it holds and its latest frame's mean intensity. Means with a 95% bootstrap interval over episodes. Never in CI.

    python bench/atari_stacks.py [--env-id BreakoutNoFrameskip-v4] [--steps 40000] [--num-envs 8] [--speed]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def ci(x, reps: int = 2000) -> str:
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return "-"
    rng = np.random.default_rng(0)
    means = rng.choice(x, (reps, len(x))).mean(1)
    return f"{x.mean():.3f} [{np.percentile(means, 2.5):.3f}, {np.percentile(means, 97.5):.3f}] (n={len(x)})"


# name: (backend, SB3's life starts on EnvPool); the first is revision 1's EnvPool stack, the last derl's default
STACKS = {"envpool, own starts": ("envpool", False), "gymnasium": ("gymnasium", False),
          "envpool, SB3 starts (default)": ("envpool", True)}


def make_stack(env_id: str, stack: str, num_envs: int, seed: int):
    """A stack's training vector env: EnvPool's from the Atari family's task, as derl's env.make builds it."""
    from derl_core.env import atari, make, pool
    backend, sb3_starts = STACKS[stack]
    if backend == "envpool":
        return pool.make(atari.envpool_task(env_id, True, sb3_starts=sb3_starts), num_envs, seed)
    return make(env_id, num_envs, seed=seed, training=True, backend=backend)


def speed(env_id: str, num_envs: int, seed: int, steps: int = 12_000, rounds: int = 5) -> dict:
    """Agent steps per second of each stack under uniform-random actions (short lives: the most life starts),
    the stacks taking turns for `rounds` rounds: {stack: [rates]}."""
    rates = {stack: [] for stack in STACKS}
    actions = np.random.default_rng(seed).integers(4, size=(steps // num_envs, num_envs))
    for _ in range(rounds):
        for stack in STACKS:
            venv = make_stack(env_id, stack, num_envs, seed)
            venv.reset(seed=seed)
            start = time.perf_counter()
            for a in actions:
                venv.step(a)
            rates[stack].append(steps / (time.perf_counter() - start))
            venv.close()
    return rates


def survey(env_id: str, stack: str, steps: int, num_envs: int, seed: int, policy: str) -> dict:
    venv = make_stack(env_id, stack, num_envs, seed)
    rng = np.random.default_rng(seed)
    obs, _ = venv.reset(seed=seed)
    n_actions = int(venv.single_action_space.n)
    out = {"game_score": [], "game_steps": [], "episode_steps": [], "reward_per_step": [], "start_zero_frames": [],
           "start_distinct_frames": [], "lives_per_game": [], "frame_mean": [], "frame_change": [],
           "start_frame_mean": []}
    length = np.zeros(num_envs, dtype=int)
    internal = np.zeros(num_envs, dtype=int)
    rewards = []

    def starts(o, idx):
        for i in idx:
            frames = o[i].reshape(4, -1)
            out["start_zero_frames"].append(int(sum(not f.any() for f in frames)))
            out["start_distinct_frames"].append(len({f.tobytes() for f in frames if f.any()}))
            out["start_frame_mean"].append(float(frames[-1].mean()))

    starts(obs, range(num_envs))
    for _ in range(steps // num_envs):
        actions = rng.integers(n_actions, size=num_envs) if policy == "random" else np.zeros(num_envs, np.int64)
        obs, rew, term, trunc, infos = venv.step(actions)
        rewards.append(rew)
        latest = obs.reshape(num_envs, 4, -1)
        out["frame_mean"].append(float(latest[:, -1].mean()))   # intensity: the grayscale and resize
        out["frame_change"].append(float((latest[:, -1] != latest[:, -2]).mean()))   # pixels that moved
        length += 1
        done = term | trunc
        for i in np.flatnonzero(done):
            out["episode_steps"].append(int(length[i]))
            length[i] = 0
            internal[i] += 1
        starts(obs, np.flatnonzero(done))
        final = infos.get("final_info", {})
        if "episode" in final:
            for i in np.flatnonzero(final["_episode"]):
                out["game_score"].append(float(final["episode"]["r"][i]))
                out["game_steps"].append(int(final["episode"]["l"][i]))
                out["lives_per_game"].append(int(internal[i]))
                internal[i] = 0
    out["reward_per_step"] = list(np.concatenate(rewards))
    venv.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="BreakoutNoFrameskip-v4")
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", action="store_true", help="only time the stacks (random actions, 5 rounds)")
    args = parser.parse_args()
    if args.speed:
        rates = speed(args.env_id, args.num_envs, args.seed)
        first = np.median(rates[next(iter(STACKS))])
        print(f"# {args.env_id}, {args.num_envs} envs: agent steps/s under random actions, median of 5 rounds\n")
        print("| stack | steps/s (median) | ratio to the first | rounds |\n|-|-|-|-|")
        for stack, r in rates.items():
            print(f"| {stack} | {np.median(r):.0f} | {np.median(r) / first:.3f} | {', '.join(f'{x:.0f}' for x in r)} |")
        return
    print(f"# {args.env_id}: derl's training stacks, {args.steps} agent steps each, {args.num_envs} envs, "
          f"seed {args.seed}")
    for policy in ("random", "noop"):
        rows = {stack: survey(args.env_id, stack, args.steps, args.num_envs, args.seed, policy) for stack in STACKS}
        print(f"\n## {'uniform-random actions' if policy == 'random' else 'action 0 (NOOP) always'}\n")
        print("| measure | " + " | ".join(STACKS) + " |\n|-" + "|-" * len(STACKS) + "|")
        for key in rows[next(iter(STACKS))]:
            print(f"| {key} | " + " | ".join(ci(rows[stack][key]) for stack in STACKS) + " |")


if __name__ == "__main__":
    main()
