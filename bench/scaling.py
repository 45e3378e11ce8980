"""How throughput grows with the number of envs and with the network's width, derl beside SB3 in one
invocation (each run its own child process, alternating): bench/results/scaling.md, scaling.json, scaling.png.

* envs: PPO CartPole-v1 (and with --breakout PPO Breakout) at 1 .. 64 envs, everything else the family's
  defaults (SB3 at rl-zoo's CartPole settings, as in bench/run.py);
* width: PPO CartPole-v1 at 8 envs with two hidden layers of 64 .. 1024 units for actor and critic
  (derl --net-arch W,W; SB3 net_arch=dict(pi=[W, W], vf=[W, W])).

Steady-state env steps/s from the first update on. Each finished point is stored: a second invocation
continues (--fresh starts over).

    python bench/scaling.py [--breakout] [--steps 16384] [--fresh]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
STORE = os.path.join(RESULTS, "scaling.json")
ENVS = [1, 2, 4, 8, 16, 32, 64]
WIDTHS = [64, 128, 256, 512, 1024]


def child(lib, case, value, steps, seed=1):
    sys.path.insert(0, HERE)
    import run as suite
    if case == "breakout-envs":
        if lib == "derl":
            return suite.derl_child("ppo", "BreakoutNoFrameskip-v4", seed, {"total_steps": steps, "num_envs": value})

        def make(s):
            from stable_baselines3 import PPO
            from stable_baselines3.common.env_util import make_atari_env
            from stable_baselines3.common.utils import get_linear_fn
            from stable_baselines3.common.vec_env import VecFrameStack
            import ale_py
            import gymnasium as gym
            gym.register_envs(ale_py)
            env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=value, seed=s), 4)
            return PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=min(256, 128 * value),
                       learning_rate=get_linear_fn(2.5e-4, 0, 1), clip_range=get_linear_fn(0.1, 0, 1),
                       ent_coef=0.01, seed=s, device="cpu", verbose=0)
        return suite.sb3_child(make, steps, seed, start_at=128 * value)
    envs, width = (value, 64) if case == "cartpole-envs" else (8, value)
    if lib == "derl":
        return suite.derl_child("ppo", "CartPole-v1", seed, {"total_steps": steps, "num_envs": envs,
                                                               "net_arch": f"{width},{width}"})

    def make(s):
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.utils import get_linear_fn
        return PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=envs, seed=s), n_steps=32,
                   batch_size=min(256, 32 * envs), gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                   learning_rate=get_linear_fn(1e-3, 0, 1), clip_range=get_linear_fn(0.2, 0, 1), seed=s,
                   policy_kwargs=dict(net_arch=dict(pi=[width, width], vf=[width, width])), device="cpu",
                   verbose=0)
    return suite.sb3_child(make, steps, seed, start_at=32 * envs)


def run_point(lib, case, value, steps):
    sys.path.insert(0, HERE)
    from run import child_result
    return child_result([os.path.abspath(__file__), "--child", lib, case, value, steps], f"{lib} {case} {value}",
                        cwd=RESULTS)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=16_384)
    parser.add_argument("--breakout", action="store_true", help="also PPO Breakout at 1..64 envs (slow)")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("LIB", "CASE", "VALUE", "STEPS"))
    args = parser.parse_args()
    if args.child:
        lib, case, value, steps = args.child
        print("RESULT " + json.dumps(child(lib, case, int(value), int(steps))), flush=True)
        return
    store = {} if args.fresh or not os.path.exists(STORE) else json.load(open(STORE))
    plan = [("cartpole-envs", v, args.steps) for v in ENVS] + [("cartpole-width", w, args.steps // 2) for w in WIDTHS]
    if args.breakout:
        plan += [("breakout-envs", v, max(8192, 256 * v)) for v in ENVS]
    for case, value, steps in plan:
        key = f"{case}/{value}"
        for lib in ("derl", "sb3"):
            if key in store and lib in store[key]:
                continue
            r = run_point(lib, case, value, steps)
            store.setdefault(key, {})[lib] = {"sps": r["sps"], "wall": r["wall"], "steps": steps}
            print(f"{case:<15} {value:>5} {lib:<5} {r['sps']:8.0f} steps/s", flush=True)
            with open(STORE, "w") as f:
                json.dump(store, f, indent=1)
    write(store)


def write(store):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cases = [("cartpole-envs", "PPO CartPole-v1: envs", "envs"), ("cartpole-width", "PPO CartPole-v1 (8 envs): "
             "hidden width", "width"), ("breakout-envs", "PPO Breakout: envs", "envs")]
    lines = ["# Throughput scaling, derl beside SB3", "",
             "`python bench/scaling.py`: env steps/s from the first update on, one seed, each run its own child "
             "process, alternating; 2 cores. Ratio = derl / SB3.", ""]
    present = [c for c in cases if any(k.startswith(c[0] + "/") for k in store)]
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present), 4), squeeze=False)
    for ax, (case, title, what) in zip(axes[0], present):
        rows = sorted(((int(k.split("/")[1]), v) for k, v in store.items() if k.startswith(case + "/")
                       and "derl" in v and "sb3" in v))
        lines += [f"## {title}", "", f"| {what} | derl steps/s | SB3 steps/s | ratio |", "|---|---|---|---|"]
        for value, v in rows:
            lines.append(f"| {value} | {v['derl']['sps']:.0f} | {v['sb3']['sps']:.0f} | "
                         f"{v['derl']['sps'] / v['sb3']['sps']:.2f} |")
        lines.append("")
        xs = [r[0] for r in rows]
        for lib in ("derl", "sb3"):
            ax.plot(xs, [r[1][lib]["sps"] for r in rows], marker="o", label=lib)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(what)
        ax.set_ylabel("env steps/s")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS, "scaling.png"), dpi=90)
    with open(os.path.join(RESULTS, "scaling.md"), "w") as f:
        f.write("\n".join(lines) + "\n![scaling](scaling.png)\n")


if __name__ == "__main__":
    main()
