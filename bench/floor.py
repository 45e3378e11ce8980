"""What bounds derl's wall time on small networks: per gradient step and per act, derl beside the floor of
eager PyTorch on this CPU for the same networks and batch, in one process.

* derl: the real Alg of the case (built as a run builds it) updating on a real batch; the real policy acting.
* floor: the networks' forward, a sum as the loss, backward and the optimizer step (fused Adam), nothing else:
  no implementation in eager PyTorch does less per gradient step (it skips every loss term).
* gemm: the matrix products of that forward and backward alone (torch.mm on the same shapes), and the
  GFLOP/s they reach: the arithmetic bound, and what SAC's update is measured against (issue 45's "within 75%
  of this CPU's matmul rate for its layer sizes").

It then bounds the whole run: gradient steps x floor + acts x act floor + the env's own stepping + derl's
start-up, against half of SB3's wall time (bench/results/latest.json).

    python bench/floor.py [--only ppo-cartpole sac-halfcheetah ...]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))

# case: (algorithm, env id, overrides, total steps of bench/run.py, gradient steps per env step,
#        [(networks as layer sizes, activation)], batch)
CASES = {
    "ppo-cartpole": ("ppo", "CartPole-v1", {}, 100_000, 20 / 256, [((4, 64, 64, 2), nn.Tanh),
                                                                   ((4, 64, 64, 1), nn.Tanh)], 256),
    "a2c-cartpole": ("a2c", "CartPole-v1", {}, 100_000, None, None, None),
    "dqn-cartpole": ("dqn", "CartPole-v1", {"learning_starts": 1000}, 30_000, None, None, None),
    "sac-pendulum": ("sac", "Pendulum-v1", {"learning_starts": 300}, 5_000, 1.0, [((3, 256, 256, 2), nn.ReLU),
                                                                                  ((4, 256, 256, 1), nn.ReLU),
                                                                                  ((4, 256, 256, 1), nn.ReLU)], 256),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", {"learning_starts": 300}, 3_000, 1.0,
                        [((17, 256, 256, 12), nn.ReLU), ((23, 256, 256, 1), nn.ReLU),
                         ((23, 256, 256, 1), nn.ReLU)], 256),
}


def timed(fn, reps=7, n=None) -> float:
    """Median seconds per call over `reps` blocks (a block ~0.2 s)."""
    for _ in range(5):
        fn()
    if n is None:
        t = time.perf_counter()
        fn()
        n = max(3, int(0.2 / max(time.perf_counter() - t, 1e-6)))
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n)
    return statistics.median(out)


def build(case):
    from derl_core import config as cfg
    from derl_core.plugins import registry
    from derl_core.run.build import prepare
    from derl_core.run.record import RunRecord, resolve_options
    algorithm, env_id, overrides, total = CASES[case][:4]
    reg = registry()
    spec, family = reg.algorithm(algorithm), reg.family_for(env_id)
    hparams = cfg.resolve(spec, reg.defaults_chain(family.name),
                          {k: str(v) for k, v in dict(overrides, total_steps=total).items()})
    record = RunRecord(algorithm, env_id, 1, hparams, resolve_options({}), family.name, "cpu")
    return prepare(reg, record, "cpu", False)


def derl_costs(case):
    """(seconds per gradient step, per act, per vector-env step, gradient steps per env step)."""
    built = build(case)
    alg, runner = built.alg, built.alg.runner
    batch = None
    while batch is None:   # a replay yields its first batch once learning starts
        runner.clean_point()
        batch = next(iter(alg.data.batches()), None)
    update = timed(lambda: alg.update(batch))
    obs = runner.obs
    act = timed(lambda: runner.policy.act(obs))
    venv = built.venv
    actions = np.stack([venv.single_action_space.sample() for _ in range(venv.num_envs)])
    env = timed(lambda: venv.step(actions))
    # gradient steps per env step, counted on a real stretch of training
    start_updates, start_steps = alg.num_updates, runner.step_count
    for _ in range(3):
        runner.clean_point()
        alg.update_phase()
    ratio = (alg.num_updates - start_updates) / max(1, runner.step_count - start_steps)
    built.venv.close()
    return update, act, env, ratio, venv.num_envs


def floor_costs(nets, batch):
    """(floor per gradient step, floor per act, gemm time, gemm GFLOP/s) for the networks."""
    torch.manual_seed(0)
    models = [nn.Sequential(*[m for i in range(len(s) - 1) for m in (nn.Linear(s[i], s[i + 1]), act())][:-1])
              for s, act in nets]
    params = [p for m in models for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-4, fused=True)
    xs = [torch.randn(batch, s[0]) for s, _ in nets]

    def step():
        opt.zero_grad(set_to_none=True)
        sum(m(x).sum() for m, x in zip(models, xs)).backward()
        opt.step()
    small = [torch.randn(8, s[0]) for s, _ in nets]

    def act():
        with torch.inference_mode():
            return [m(x) for m, x in zip(models, small)]
    gemm, gflops = gemm_costs(nets, batch)
    return timed(step), timed(act), gemm, gflops


def gemm_costs(nets, batch, passes=None):
    """(seconds, GFLOP/s) of the matrix products of the networks' passes: per network (forward passes,
    weight-gradient passes, input-gradient passes); the default, one of each, is one forward and backward.
    An input-gradient pass covers every layer but the first (whose input needs none, except where the input
    is an action the gradient flows to: SAC's actor loss through the critics, counted by `passes`)."""
    shapes, flops = [], 0
    for j, (sizes, _) in enumerate(nets):
        fwd, wgrad, igrad, first = (passes[j] if passes else (1, 1, 1, 0))
        for i in range(len(sizes) - 1):
            k, n = sizes[i], sizes[i + 1]
            layer = ([((batch, k), (k, n))] * fwd + [((k, batch), (batch, n))] * wgrad
                     + [((batch, n), (n, k))] * (igrad if i else first))
            shapes += layer
            flops += 2 * batch * k * n * len(layer)
    mats = [(torch.randn(*a), torch.randn(*b)) for a, b in shapes]
    seconds = timed(lambda: [torch.mm(a, b) for a, b in mats])
    return seconds, flops / seconds / 1e9


# SAC's update, pass by pass: the actor runs on s' (no grad) and on s (with its backward); the twin critics
# run as targets on s', on s (critic loss: weight and input gradients) and on (s, new actions) in the actor
# loss (input gradients only, down to the actions)
SAC_PASSES = [(2, 1, 1, 0), (3, 1, 2, 1), (3, 1, 2, 1)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", default=list(CASES))
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count()))
    latest = json.load(open(os.path.join(HERE, "results", "latest.json"))).get("cases", {})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; seconds are medians of 7 blocks")
    for case in args.only:
        algorithm, env_id, overrides, total, _, nets, batch = CASES[case]
        update, act, env, ratio, num_envs = derl_costs(case)
        line = (f"{case:<16} derl: update {1e3 * update:6.2f} ms, act {1e3 * act:5.3f} ms, env step "
                f"{1e3 * env:5.3f} ms ({num_envs} envs), {ratio:.3f} gradient steps per env step")
        print(line)
        if nets is None:
            continue
        f_update, f_act, gemm, gflops = floor_costs(nets, batch)
        print(f"{'':<16} floor: update {1e3 * f_update:6.2f} ms (derl {update / f_update:.2f}x of it), act "
              f"{1e3 * f_act:5.3f} ms; its gemms alone {1e3 * gemm:6.2f} ms at {gflops:.0f} GFLOP/s")
        if algorithm == "sac":
            sac_gemm, sac_gflops = gemm_costs(nets, batch, SAC_PASSES)
            print(f"{'':<16} SAC's whole update as gemms: {1e3 * sac_gemm:.2f} ms at {sac_gflops:.0f} GFLOP/s; "
                  f"derl's update runs at {sac_gemm / update:.0%} of that matmul rate (target 75%)")
        acts = total / num_envs
        bound = total * ratio * f_update + acts * (f_act + env)
        sb3 = latest.get(case, {}).get("medians", {}).get("sb3", {}).get("wall")
        target = f"; half of SB3's {sb3:.1f} s is {sb3 / 2:.1f} s" if sb3 else ""
        print(f"{'':<16} a run of {total} steps needs at least {bound:.1f} s of updates, acts and env steps "
              f"in eager PyTorch, before start-up{target}")


if __name__ == "__main__":
    main()
