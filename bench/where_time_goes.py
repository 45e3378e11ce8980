"""Where the time of a training goes, derl beside SB3: seconds per 1000 env steps in env stepping, acting
(inference), the rest of collection (storage, GAE, copies) and updates. Timers wrap the libraries' own methods
(vector env step, policy act / SB3 policy forward, Alg.update / SB3 train); run one case at a time with nothing
else on the machine; each library in its own process (--only) gives each its own torch thread default.

    python bench/where_time_goes.py ppo-breakout [--steps 10240]
    python bench/where_time_goes.py sac-halfcheetah [--steps 3000]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CASES = {   # case: (algorithm, env id, derl overrides, steps before the clock starts)
    "ppo-cartpole": ("ppo", "CartPole-v1", {}, 1024),
    "sac-pendulum": ("sac", "Pendulum-v1", {}, 100),
    "ppo-breakout": ("ppo", "BreakoutNoFrameskip-v4", {}, 1024),
    "ppo-halfcheetah": ("ppo", "HalfCheetah-v5", {}, 2048),
    "sac-halfcheetah": ("sac", "HalfCheetah-v5", {"learning_starts": 1000}, 1000),
    "dqn-breakout": ("dqn", "BreakoutNoFrameskip-v4", {"learning_starts": 2000, "buffer_size": 50_000}, 2000),
}


class Timers:
    def __init__(self, clock):
        self.total, self.clock, self.start = defaultdict(float), clock, None

    def wrap(self, obj, name, label):
        real = getattr(obj, name)

        def timed(*args, **kwargs):
            if self.start is None and self.clock() >= self.warm:
                self.start = (time.perf_counter(), self.clock())
            t = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                if self.start is not None:
                    self.total[label] += time.perf_counter() - t
        setattr(obj, name, timed)

    def report(self, who, end_step):
        wall = time.perf_counter() - self.start[0]
        steps = end_step - self.start[1]
        per = lambda s: 1000 * s / steps   # noqa: E731
        parts = dict(self.total)
        parts["other (storage, GAE, copies, logging)"] = wall - sum(self.total.values())
        print(f"{who}: {steps} env steps in {wall:.1f} s = {steps / wall:.0f} steps/s; seconds per 1000 env steps:")
        for label, s in parts.items():
            print(f"   {label:<40} {per(s):7.3f} s  ({100 * s / wall:4.1f} %)")


def derl(case, steps, backend):
    import torch

    from derl_core import config as cfg
    from derl_core.run import rundir
    from derl_core.run.build import prepare
    from derl_core.run.record import RunRecord, resolve_options
    from derl_core.plugins import registry
    from derl_core.run.session import _learn
    algorithm, env_id, overrides, warm = CASES[case]
    reg = registry()
    spec, family = reg.algorithm(algorithm), reg.family_for(env_id)
    hparams = cfg.resolve(spec, reg.defaults_chain(family.name), {k: str(v) for k, v in
                                                                   dict(overrides, total_steps=steps).items()})
    record = RunRecord(algorithm, env_id, 1, hparams, resolve_options({"env_backend": backend}), family.name, "cpu")
    built = prepare(reg, record, "cpu", False)
    venv, alg = built.venv, built.alg
    timers = Timers(lambda: alg.runner.step_count)
    timers.warm = warm
    base = venv.unwrapped
    timers.wrap(base, "step", f"env step ({getattr(venv, 'backend', '?')})")
    timers.wrap(alg.runner.policy, "act", "act (inference)")   # not the loss's policy.evaluate
    timers.wrap(alg, "update", "update (forward, backward, optimizer)")
    run_dir = os.path.join(tempfile.mkdtemp(), "run")
    rundir.create_run(run_dir, record)
    _learn(reg, run_dir, record, built, lambda *a: None)
    timers.report(f"derl {case} ({venv.backend}, {torch.get_num_threads()} torch threads)", alg.runner.step_count)


def sb3(case, steps):
    import torch

    import run as suite
    makers = {"ppo-cartpole": suite.sb3_ppo_cartpole, "sac-pendulum": suite.sb3_sac_pendulum,
              "ppo-breakout": suite.sb3_ppo_breakout(False), "ppo-halfcheetah": suite.sb3_ppo_halfcheetah,
              "sac-halfcheetah": suite.sb3_sac_halfcheetah, "dqn-breakout": suite.sb3_dqn_breakout(2000)}
    model = makers[case](1)
    timers = Timers(lambda: model.num_timesteps)
    timers.warm = CASES[case][3]
    timers.wrap(model.env, "step", "env step (SB3 VecEnv)")
    timers.wrap(model.policy, "forward" if case.startswith("ppo") else "predict", "act (inference)")
    timers.wrap(model, "train", "update (forward, backward, optimizer)")
    model.learn(total_timesteps=steps)
    timers.report(f"SB3 {case} ({torch.get_num_threads()} torch threads)", model.num_timesteps)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=list(CASES))
    parser.add_argument("--steps", type=int, default=10_240)
    parser.add_argument("--only", choices=["derl", "derl-gymnasium", "sb3"])
    args = parser.parse_args()
    if args.only in (None, "derl"):
        derl(args.case, args.steps, None)
    if args.only in (None, "derl-gymnasium"):
        derl(args.case, args.steps, "gymnasium")
    if args.only in (None, "sb3"):
        sb3(args.case, args.steps)
