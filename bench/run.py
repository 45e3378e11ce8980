"""`make bench`: derl beside Stable-Baselines3 on the workloads users bring, in one invocation.

Each case runs derl and SB3 at the same hyperparameters, budget and seed, alternating, each run in its own
child process timing its training only; the suite writes bench/results/latest.md and latest.json (figures,
ratios, returns, the machine: cores, torch threads, versions). Throughput cases measure steady-state env
steps/s: from the first gradient update (after learning starts / the first rollout) to the end.

    python bench/run.py [--seeds 1] [--only CASE ...] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


# ------------------------------------------------------------------------------------------------ children
def derl_child(alg, env_id, seed, overrides, threads=None, env_backend=None):
    """Trains with derl; wall of the training, steps/s from the first update on, returns."""
    from derl_core.rl import alg as alg_module
    from derl_core.plugins import registry
    from derl_core.run.session import train
    mark = {}
    real_update = alg_module.Alg.update

    def update(self, batch):
        if "t" not in mark:
            mark.update(t=time.perf_counter(), step=self.step_count)
        return real_update(self, batch)
    alg_module.Alg.update = update
    logdir = os.path.join(tempfile.mkdtemp(prefix="derl-bench-"), "run")
    start = time.perf_counter()
    train(registry(), alg, env_id, {k: str(v) for k, v in overrides.items()}, logdir=logdir, seed=seed,
          device="cpu", progress=False, echo=lambda *a: None, threads=threads, checkpoint_every=10**12,
          env_backend=env_backend, preset="none")   # the family defaults SB3's side is matched to
    end = time.perf_counter()
    rows = [json.loads(line) for line in open(os.path.join(logdir, "metrics.jsonl"))]
    returns = [r["charts/episodic_return"] for r in rows if "charts/episodic_return" in r]
    final = max(r["step"] for r in rows)
    import torch
    return {"wall": end - start, "sps": (final - mark.get("step", 0)) / (end - mark.get("t", start)),
            "final_return": statistics.fmean(returns[-100:]) if returns else float("nan"),
            "episodes": len(returns), "torch_threads": torch.get_num_threads()}


def sb3_child(make_model, total_steps, seed, start_at=0, threads=None):
    """Trains with SB3; the same figures (a callback marks the first step past `start_at`)."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    if threads is not None:
        torch.set_num_threads(threads)
    mark = {}

    class Mark(BaseCallback):
        def _on_step(self):
            if "t" not in mark and self.num_timesteps > start_at:
                mark.update(t=time.perf_counter(), step=self.num_timesteps)
            return True
    start = time.perf_counter()
    model = make_model(seed)
    model.learn(total_timesteps=total_steps, callback=Mark())
    end = time.perf_counter()
    eps = [ep["r"] for ep in model.ep_info_buffer]
    return {"wall": end - start, "sps": (model.num_timesteps - mark.get("step", 0)) / (end - mark.get("t", start)),
            "final_return": statistics.fmean(eps) if eps else float("nan"), "episodes": len(eps),
            "torch_threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------------ SB3 models
def sb3_ppo_cartpole(seed):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import get_linear_fn
    return PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=seed), n_steps=32, batch_size=256,
               gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0, learning_rate=get_linear_fn(1e-3, 0, 1),
               clip_range=get_linear_fn(0.2, 0, 1), seed=seed, device="cpu", verbose=0)


def sb3_a2c_cartpole(seed):
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env
    return A2C("MlpPolicy", make_vec_env("CartPole-v1", n_envs=8, seed=seed), ent_coef=0.0, seed=seed,
               device="cpu", verbose=0)


# derl's DQN with its extensions off, to match SB3's DQN (rl-zoo's CartPole settings)
DQN_PLAIN = {"double": "false", "dueling": "false", "prioritized": "false", "nstep": 1, "epsilon_end": 0.04,
             "target_update_interval": 128}


def sb3_dqn_cartpole(seed):
    from stable_baselines3 import DQN
    return DQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
               learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
               exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
               seed=seed, device="cpu", verbose=0)


def sb3_sac_pendulum(seed):
    from stable_baselines3 import SAC
    return SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, learning_starts=100, batch_size=256, seed=seed,
               device="cpu", verbose=0)


def _atari(seed, subproc):
    import ale_py
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecFrameStack
    gym.register_envs(ale_py)
    env = make_atari_env("BreakoutNoFrameskip-v4", n_envs=8, seed=seed,
                         vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv,
                         vec_env_kwargs={"start_method": "fork"} if subproc else None)   # ALE ids registered
    return VecFrameStack(env, 4)


def sb3_ppo_breakout(subproc):
    def make(seed):
        from stable_baselines3 import PPO
        from stable_baselines3.common.utils import get_linear_fn
        return PPO("CnnPolicy", _atari(seed, subproc), n_steps=128, n_epochs=4, batch_size=256,
                   learning_rate=get_linear_fn(2.5e-4, 0, 1), clip_range=get_linear_fn(0.1, 0, 1), vf_coef=0.5,
                   ent_coef=0.01, seed=seed, device="cpu", verbose=0)
    return make


def sb3_dqn_breakout(learning_starts):
    def make(seed):
        from stable_baselines3 import DQN
        return DQN("CnnPolicy", _single_atari(seed), buffer_size=50_000,
                   learning_rate=1e-4, batch_size=32, learning_starts=learning_starts, target_update_interval=1000,
                   train_freq=4, gradient_steps=1, optimize_memory_usage=False, seed=seed, device="cpu",
                   verbose=0)
    return make


def _single_atari(seed):
    import ale_py
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack
    gym.register_envs(ale_py)
    return VecFrameStack(make_atari_env("BreakoutNoFrameskip-v4", n_envs=1, seed=seed), 4)


def sb3_sac_halfcheetah(seed):
    from stable_baselines3 import SAC
    return SAC("MlpPolicy", "HalfCheetah-v5", learning_rate=3e-4, learning_starts=1000, batch_size=256,
               seed=seed, device="cpu", verbose=0)


def sb3_ppo_halfcheetah(seed):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize
    env = VecNormalize(make_vec_env("HalfCheetah-v5", n_envs=1, seed=seed), gamma=0.99)
    return PPO("MlpPolicy", env, n_steps=2048, batch_size=64, n_epochs=10, learning_rate=3e-4, gamma=0.99,
               gae_lambda=0.95, clip_range=0.2, ent_coef=0.0, seed=seed, device="cpu", verbose=0)


# ------------------------------------------------------------------------------------------------ cases
# name: (what is compared, {runner: callable(seed) -> dict}); the first runner is derl's, the ratio is
# derl / the best SB3 runner (wall time, lower is better) or derl / best SB3 (steps/s, higher is better).
def cases(quick: bool):
    f = 0.25 if quick else 1.0
    n = lambda steps: max(1000, int(steps * f))   # noqa: E731
    return {
        "ppo-cartpole": ("wall", n(100_000), {
            "derl": lambda s, t: derl_child("ppo", "CartPole-v1", s, {"total_steps": t}),
            "sb3": lambda s, t: sb3_child(sb3_ppo_cartpole, t, s)}),
        "a2c-cartpole": ("wall", n(100_000), {
            "derl": lambda s, t: derl_child("a2c", "CartPole-v1", s, {"total_steps": t}),
            "sb3": lambda s, t: sb3_child(sb3_a2c_cartpole, t, s)}),
        "dqn-cartpole": ("wall", n(30_000), {
            "derl": lambda s, t: derl_child("dqn", "CartPole-v1", s, dict(DQN_PLAIN, total_steps=t,
                                                                            epsilon_steps=int(0.16 * t))),
            "sb3": lambda s, t: sb3_child(sb3_dqn_cartpole, t, s)}),
        "sac-pendulum": ("wall", n(5_000), {
            "derl": lambda s, t: derl_child("sac", "Pendulum-v1", s, {"total_steps": t}),
            "sb3": lambda s, t: sb3_child(sb3_sac_pendulum, t, s)}),
        "ppo-breakout": ("sps", n(20_480), {
            "derl": lambda s, t: derl_child("ppo", "BreakoutNoFrameskip-v4", s, {"total_steps": t}),
            "derl-gymnasium": lambda s, t: derl_child("ppo", "BreakoutNoFrameskip-v4", s, {"total_steps": t},
                                                      env_backend="gymnasium"),
            "sb3-dummy": lambda s, t: sb3_child(sb3_ppo_breakout(False), t, s, start_at=1024),
            "sb3-subproc": lambda s, t: sb3_child(sb3_ppo_breakout(True), t, s, start_at=1024)}),
        "dqn-breakout": ("sps", max(3_000, n(6_000)), {
            "derl": lambda s, t: derl_child("dqn", "BreakoutNoFrameskip-v4", s, {
                "total_steps": t, "learning_starts": 2000, "buffer_size": 50_000}),
            "sb3": lambda s, t: sb3_child(sb3_dqn_breakout(2000), t, s, start_at=2000)}),
        "sac-halfcheetah": ("sps", max(2_000, n(3_000)), {
            "derl": lambda s, t: derl_child("sac", "HalfCheetah-v5", s, {"total_steps": t, "learning_starts": 1000}),
            "sb3": lambda s, t: sb3_child(sb3_sac_halfcheetah, t, s, start_at=1000)}),
        "ppo-halfcheetah": ("sps", n(20_480), {
            "derl": lambda s, t: derl_child("ppo", "HalfCheetah-v5", s, {"total_steps": t}),
            "sb3": lambda s, t: sb3_child(sb3_ppo_halfcheetah, t, s, start_at=2048)}),
    }


WORKDIR = tempfile.mkdtemp(prefix="derl-bench-cwd-")   # children's working directory (MuJoCo logs, ...)


def child_result(argv: list, what: str, **run_kwargs) -> dict:
    """Runs `python ARGV...` (a bench script's --child) and returns what it printed on its RESULT line; a
    child without one ends the benchmark with `what` and the tail of its stderr. bench/versions.py and
    bench/scaling.py use it too."""
    out = subprocess.run([sys.executable, *map(str, argv)], capture_output=True, text=True, **run_kwargs)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(line[7:])


def run_child(case, runner, seed, steps):
    return child_result([os.path.abspath(__file__), "--child", case, runner, seed, steps],
                        f"{case}/{runner} seed {seed}", cwd=WORKDIR)


def two_at_once(case, runner, steps):
    """Seeds 1 and 2 of one runner started together: total env steps/s over the pair's wall time."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", case, runner, str(seed),
                               str(steps)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=WORKDIR)
             for seed in (1, 2)]
    results = []
    for p in procs:
        out, err = p.communicate()
        line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            raise SystemExit(f"{case}/{runner} (two at once) failed:\n{err[-3000:]}")
        results.append(json.loads(line[7:]))
    wall = time.perf_counter() - start
    return {"wall": wall, "sps": 2 * steps / wall, "final_return": statistics.fmean(r["final_return"] for r in results),
            "torch_threads": results[0]["torch_threads"]}


def machine() -> dict:
    import gymnasium
    import stable_baselines3
    import torch

    import derl_core
    return {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "torch_threads_default": torch.get_num_threads(), "python": platform.python_version(),
            "torch": torch.__version__, "gymnasium": gymnasium.__version__, "sb3": stable_baselines3.__version__,
            "derl": derl_core.__version__, "date": time.strftime("%Y-%m-%d %H:%M"), "envpool": envpool_version()}


def envpool_version():
    try:
        import envpool
        return f"envpool {envpool.__version__}"
    except Exception:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--only", nargs="+")
    parser.add_argument("--quick", action="store_true", help="a quarter of each budget (a smoke run)")
    parser.add_argument("--child", nargs=4, metavar=("CASE", "RUNNER", "SEED", "STEPS"))
    args = parser.parse_args()
    table = cases(args.quick)
    if args.child:
        case, runner, seed, steps = args.child
        print("RESULT " + json.dumps(table[case][2][runner](int(seed), int(steps))), flush=True)
        return
    selected = {k: v for k, v in table.items() if not args.only or k in args.only}
    report = {"machine": machine(), "seeds": args.seeds, "cases": {}}
    latest = os.path.join(RESULTS, "latest.json")
    if args.only and os.path.exists(latest):   # --only updates those cases of the last report
        with open(latest) as f:
            report["cases"] = json.load(f).get("cases", {})
    for case, (metric, steps, runners) in selected.items():
        results = {name: [] for name in runners}
        for seed in args.seeds:
            for name in runners:   # alternating derl and SB3
                results[name].append(run_child(case, name, seed, steps))
                r = results[name][-1]
                print(f"{case:<16} {name:<12} seed {seed}: wall {r['wall']:7.1f}s  {r['sps']:8.0f} steps/s  "
                      f"return {r['final_return']:8.1f}", flush=True)
        report["cases"][case] = summarize(metric, steps, results)
        report["cases"][case]["measured"] = f"{time.strftime('%Y-%m-%d')}, seeds {' '.join(map(str, args.seeds))}"
    if not args.only or "two-at-once" in args.only:
        for case, steps in (("ppo-cartpole", 50_000), ("sac-pendulum", 3_000)):
            steps = max(1000, int(steps * (0.25 if args.quick else 1)))
            results = {name: [two_at_once(case, name, steps)] for name in ("derl", "sb3")}
            for name, (r,) in results.items():
                print(f"two-at-once {case:<12} {name:<6}: wall {r['wall']:7.1f}s  {r['sps']:8.0f} steps/s total",
                      flush=True)
            report["cases"][f"two-at-once {case}"] = summarize("sps", 2 * steps, results)
    write(report)


def summarize(metric, steps, results) -> dict:
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("wall", "sps", "final_return")}
           for name, rs in results.items()}
    derl, others = med["derl"], {k: v for k, v in med.items() if k.startswith("sb3")}
    if metric == "wall":
        best = min(others, key=lambda k: others[k]["wall"])
        ratio, target = derl["wall"] / others[best]["wall"], "derl wall <= 0.5x SB3's"
    else:
        best = max(others, key=lambda k: others[k]["sps"])
        ratio, target = derl["sps"] / others[best]["sps"], "derl steps/s >= 1.5x SB3's"
    met = ratio <= 0.5 if metric == "wall" else ratio >= 1.5
    return {"metric": metric, "steps": steps, "medians": med, "best_sb3": best, "ratio": ratio, "target": target,
            "met": met, "threads": {k: rs[0]["torch_threads"] for k, rs in results.items()}}


def write(report):
    m = report["machine"]
    lines = [f"# derl vs Stable-Baselines3 ({m['date']})", "",
             f"{m['cores']} cores ({m['cpu']}), torch {m['torch']} (default threads here "
             f"{m['torch_threads_default']}), "
             f"gymnasium {m['gymnasium']}, SB3 {m['sb3']}, derl {m['derl']}, python {m['python']}; seeds "
             f"{report['seeds']} (medians); each run a child process timing its training.", "",
             "derl runs on its default env backend (EnvPool for Atari and MuJoCo vector envs of 4+ envs, here "
             f"PPO Breakout: {m.get('envpool') or 'not installed'}); other runners are listed under 'also'.", "",
             "| case | steps | metric | derl | best SB3 | ratio | target | met | return derl / SB3 | torch threads "
             "| also | measured |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for case, c in report["cases"].items():
        d, b = c["medians"]["derl"], c["medians"][c["best_sb3"]]
        also_not = ("derl", c["best_sb3"])
        fmt = (lambda r: f"{r['wall']:.1f} s") if c["metric"] == "wall" else (lambda r: f"{r['sps']:.0f}/s")
        lines.append(f"| {case} | {c['steps']} | {'wall time' if c['metric'] == 'wall' else 'env steps/s'} | "
                     f"{fmt(d)} | {fmt(b)} ({c['best_sb3']}) | {c['ratio']:.2f} | {c['target']} | "
                     f"{'yes' if c['met'] else 'no'} | {d['final_return']:.1f} / {b['final_return']:.1f} | "
                     f"{', '.join(f'{k} {v}' for k, v in c['threads'].items())} | "
                     f"{'; '.join(f'{k} ' + fmt(v) for k, v in c['medians'].items() if k not in also_not)} | "
                     f"{c.get('measured', '2026-11-27, seed 1')} |")
    save_report("latest", lines, report)


def save_report(stem: str, lines: list, report: dict):
    """bench/results/STEM.md (the table lines) and STEM.json (the report), and the table on stdout."""
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{stem}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(RESULTS, f"{stem}.json"), "w") as f:
        json.dump(report, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
