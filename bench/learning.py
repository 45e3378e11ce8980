"""`make bench-learning`: does derl learn on real tasks? derl beside Stable-Baselines3, same budget and settings.

    python bench/learning.py [--seeds 1] [--only CASE ...] [--jobs 2]

Cases: PPO Hopper-v5 (300k steps), SAC HalfCheetah-v5 (50k), PPO BreakoutNoFrameskip-v4 (300k, derl on EnvPool).
Each derl run is a real `derl` command (its family's defaults, --eval-every); each SB3 run uses the same
hyperparameters and writes its training episodes as a derl-style run directory, so `derl plot` draws both on one
figure. Runs go two at a time (`--jobs`), each on one torch thread, longest first. Results: the mean raw return of
the last 20 training episodes (whole games on Atari, for both), in bench/results/learning.md/.json and one PNG
per case; the run directories stay in bench/results/learning-runs/ (not committed)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from run import save_report   # bench/run.py: the same results files for both suites

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
RUNS = os.path.join(RESULTS, "learning-runs")
DERL = os.path.join(os.path.dirname(sys.executable), "derl")
LAST = 20   # episodes averaged for the final return

# case: (algorithm, env id, steps, evaluate every, episodes per evaluation)
FULL = {
    "ppo-hopper": ("ppo", "Hopper-v5", 300_000, 30_000, 5),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", 50_000, 10_000, 3),
    "ppo-breakout": ("ppo", "BreakoutNoFrameskip-v4", 300_000, 50_000, 3),
}
SCALE = [1.0]   # --scale: a fraction of each budget (a smoke run of the script)
CASES = dict(FULL)


def set_scale(scale: float):
    SCALE[0] = scale
    CASES.update({k: (alg, env_id, int(steps * scale), max(1, int(every * scale)), episodes)
                  for k, (alg, env_id, steps, every, episodes) in FULL.items()})


# ------------------------------------------------------------------------------------------------ SB3 side
def sb3_model(case: str, seed: int):
    """SB3 with derl's defaults for the case's family (see `derl ppo -h`, `derl sac -h`)."""
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.env_util import make_atari_env, make_vec_env
    from stable_baselines3.common.utils import get_linear_fn
    from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize
    if case == "ppo-hopper":
        env = VecNormalize(make_vec_env("Hopper-v5", n_envs=1, seed=seed), gamma=0.99)
        return PPO("MlpPolicy", env, n_steps=2048, batch_size=64, n_epochs=10, learning_rate=get_linear_fn(3e-4, 0, 1),
                   gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, ent_coef=0.0, vf_coef=0.5,
                   max_grad_norm=0.5, seed=seed, device="cpu", verbose=0)
    if case == "sac-halfcheetah":
        return SAC("MlpPolicy", "HalfCheetah-v5", learning_rate=3e-4, buffer_size=1_000_000, learning_starts=5000,
                   batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1, ent_coef="auto",
                   policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0)
    if case == "ppo-breakout":
        import ale_py
        import gymnasium as gym
        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=seed), 4)
        return PPO("CnnPolicy", env, n_steps=128, n_epochs=4, batch_size=256, learning_rate=get_linear_fn(2.5e-4, 0, 1),
                   gamma=0.99, gae_lambda=0.95, clip_range=0.1, clip_range_vf=0.1, ent_coef=0.01, vf_coef=0.5,
                   max_grad_norm=0.5, seed=seed, device="cpu", verbose=0)
    raise KeyError(case)


def sb3_child(case: str, seed: int, run_dir: str):
    """Trains SB3 and writes run_dir/config.json + metrics.jsonl (one row per finished episode)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    torch.set_num_threads(1)
    alg, env_id, steps, _, _ = CASES[case]
    os.makedirs(run_dir)
    rows = open(os.path.join(run_dir, "metrics.jsonl"), "w")

    class Episodes(BaseCallback):
        def _on_step(self):
            for info in self.locals["infos"]:
                if "episode" in info:
                    rows.write(json.dumps({"step": self.num_timesteps, "charts/episodic_return": info["episode"]["r"],
                                           "charts/episodic_length": info["episode"]["l"]}) + "\n")
            return True
    start = time.perf_counter()
    sb3_model(case, seed).learn(total_timesteps=steps, callback=Episodes())
    rows.close()
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"algorithm": f"SB3 {alg.upper()}", "env_id": env_id, "seed": seed, "hyperparameters": {},
                   "wall_s": time.perf_counter() - start}, f)


# ------------------------------------------------------------------------------------------------ driver
def run_one(case: str, who: str, seed: int) -> dict:
    alg, env_id, steps, every, episodes = CASES[case]
    run_dir = os.path.join(RUNS, f"{case}-{who}-s{seed}")
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    if who == "derl":
        cmd = [DERL, alg, "--env-id", env_id, "--total-steps", str(steps), "--seed", str(seed), "--logdir",
               run_dir, "--threads", "1", "--eval-every", str(every), "--eval-episodes", str(episodes)]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", case, str(seed), run_dir, "--scale",
               str(SCALE[0])]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=RUNS)
    if out.returncode != 0:
        raise SystemExit(f"{case} {who} seed {seed} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl")) if line.strip()]
    returns = [r["charts/episodic_return"] for r in rows if "charts/episodic_return" in r]
    evals = [r["charts/eval_return"] for r in rows if "charts/eval_return" in r]
    result = {"case": case, "who": who, "seed": seed, "run_dir": run_dir, "wall": wall, "episodes": len(returns),
              "final_return": statistics.fmean(returns[-LAST:]), "last_eval": evals[-1] if evals else None}
    with open(run_dir + ".json", "w") as f:
        json.dump(result, f)
    print(f"{case:<16} {who:<5} seed {seed}: {wall:7.0f} s  final return {result['final_return']:8.1f}"
          f"{'' if not evals else f'  last eval {evals[-1]:.1f}'}", flush=True)
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--only", nargs="+", choices=list(CASES))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="a fraction of each budget (a smoke run)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "SEED", "RUN_DIR"))
    parser.add_argument("--summarize", action="store_true", help="only rebuild the table from the runs so far")
    args = parser.parse_args()
    set_scale(args.scale)
    if args.child:
        sb3_child(args.child[0], int(args.child[1]), args.child[2])
        return
    if args.summarize:
        summarize(args.jobs)
        return
    os.makedirs(RUNS, exist_ok=True)
    cases = args.only or list(CASES)
    order = sorted(((c, w, s) for c in cases for w in ("derl", "sb3") for s in args.seeds),
                   key=lambda x: -CASES[x[0]][2] * (4 if "breakout" in x[0] else 1))   # longest first
    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda x: run_one(*x), order))
    summarize(args.jobs)


def summarize(jobs: int):
    """The table over every finished run in bench/results/learning-runs (all seeds run so far)."""
    results = [json.load(open(os.path.join(RUNS, f))) for f in sorted(os.listdir(RUNS)) if f.endswith(".json")]
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "jobs": jobs, "runs": results,
              "cases": {}}
    for case in [c for c in CASES if any(r["case"] == c for r in results)]:
        derl = [r for r in results if r["case"] == case and r["who"] == "derl"]
        sb3 = [r for r in results if r["case"] == case and r["who"] == "sb3"]
        if not derl or not sb3:
            continue
        png = os.path.join(RESULTS, f"learning-{case}.png")
        if os.path.exists(png):
            os.remove(png)
        subprocess.run([DERL, "plot", *[r["run_dir"] for r in derl + sb3], "--out", png], check=True,
                       capture_output=True)
        d, s = (statistics.median(r["final_return"] for r in rs) for rs in (derl, sb3))
        evals = [r["last_eval"] for r in derl if r["last_eval"] is not None]
        report["cases"][case] = {"steps": CASES[case][2], "env_id": CASES[case][1], "derl": d, "sb3": s,
                                 "met": d >= s, "png": os.path.basename(png),
                                 "per_seed": {w: {r["seed"]: r["final_return"] for r in rs}
                                              for w, rs in (("derl", derl), ("sb3", sb3))},
                                 "derl_last_eval": statistics.median(evals) if evals else None,
                                 "wall": {"derl": statistics.median(r["wall"] for r in derl),
                                          "sb3": statistics.median(r["wall"] for r in sb3)}}
    write(report)


def write(report: dict):
    lines = [f"# Learning: derl vs Stable-Baselines3 ({report['date']})", "",
             f"{report['cores']} cores, {report['jobs']} runs at a time (one torch thread each); final return = mean "
             f"raw return of the last {LAST} training episodes (whole games on Atari), median over seeds.", "",
             "| case | env | steps | derl | SB3 | derl >= SB3 | per seed derl / SB3 | derl last eval | wall derl / SB3 "
             "| curves |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for case, c in report["cases"].items():
        ev = "—" if c.get("derl_last_eval") is None else f"{c['derl_last_eval']:.1f}"
        seeds = sorted(c["per_seed"]["derl"], key=int)
        per = "; ".join(f"s{k}: {c['per_seed']['derl'][k]:.0f} / {c['per_seed']['sb3'].get(k, float('nan')):.0f}"
                        for k in seeds)
        lines.append(f"| {case} | {c['env_id']} | {c['steps']} | {c['derl']:.1f} | {c['sb3']:.1f} | "
                     f"{'yes' if c['met'] else 'no'} | {per} | {ev} | "
                     f"{c['wall']['derl']:.0f} s / {c['wall']['sb3']:.0f} s | "
                     f"[{c['png']}]({c['png']}) |")
    save_report("learning", lines, report)


if __name__ == "__main__":
    main()
