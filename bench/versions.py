"""derl beside an earlier derl: the same `bench/run.py` cases in this tree and in a git revision, alternating,
each run in its own child process; medians and ratios (this tree's wall time / the revision's).

    python bench/versions.py [--rev 011bb10] [--reps 3] [--only ppo-cartpole a2c-cartpole ...]

The revision is checked out with `git worktree` into a temporary folder and imported through PYTHONPATH (its
derl_core and plugins shadow the installed ones); nothing of it is committed. Used for the redesign's claim
that the new Trainer (no host sync per gradient step) costs nothing and helps small networks."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SMALL = ["ppo-cartpole", "a2c-cartpole", "dqn-cartpole", "sac-pendulum"]


def child(tree: str, case: str, seed: int, steps: int, workdir: str) -> dict:
    plugins = [os.path.join(tree, "plugins", p) for p in sorted(os.listdir(os.path.join(tree, "plugins")))]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tree, *plugins]))
    from run import child_result   # this tree's bench/run.py (main puts bench/ on sys.path)
    return child_result([os.path.join(tree, "bench", "run.py"), "--child", case, "derl", seed, steps],
                        f"{case} in {tree}", cwd=workdir, env=env)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", default="011bb10", help="the earlier derl (default: before the redesign)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=SMALL)
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    import run as suite
    table = suite.cases(False)
    base = tempfile.mkdtemp(prefix="derl-rev-")
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", base, args.rev], check=True,
                   capture_output=True)
    workdir = tempfile.mkdtemp(prefix="derl-bench-cwd-")
    rows = []
    try:
        for case in args.only:
            steps = table[case][1]
            walls = {"now": [], args.rev: []}
            for rep in range(args.reps):
                for name, tree in (("now", ROOT), (args.rev, base)):   # alternating
                    r = child(tree, case, 1, steps, workdir)
                    walls[name].append(r["wall"])
                    print(f"{case:<14} {name:<8} rep {rep}: wall {r['wall']:6.1f}s  {r['sps']:7.0f} steps/s  "
                          f"return {r['final_return']:7.1f}", flush=True)
            now, then = statistics.median(walls["now"]), statistics.median(walls[args.rev])
            rows.append((case, steps, now, then, now / then))
    finally:
        subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", base], capture_output=True)
    print(f"\n| case | steps | wall now (median of {args.reps}) | wall at {args.rev} | ratio now/then |")
    print("|---|---|---|---|---|")
    for case, steps, now, then, ratio in rows:
        print(f"| {case} | {steps} | {now:.1f} s | {then:.1f} s | {ratio:.2f} |")


if __name__ == "__main__":
    main()
