"""The suspects of a gap to SB3, one at a time, on the case that shows it (issue 18, "close every gap").

    python bench/ablation.py --case CASE [--parallel 2] [--seeds 5] [--first-seed K] [--max-minutes M] [--only VARIANT ...] [--table]
    python bench/ablation.py --case CASE --smoke 0.02   # every budget scaled, 2 seeds, stored in a temporary folder

Where the learning benchmark (bench/learning.py) finds derl's IQM below SB3's, what a flag cannot match between
the two (learning.md, "What the settings cannot match") are the suspects. Each variant is derl with one of them
made SB3's: a patch applied in a child process before derl's own CLI runs (bench code only: derl gains no knob
for it), or a flag derl already has.

sac-halfcheetah (SAC, HalfCheetah-v5 100k; about 35-40 min a run here):
* sb3-log-prob: the tanh correction log(1 - tanh(u)^2 + 1e-6), SB3's form, instead of derl's exact
  2 (log 2 - u - softplus(-2u)). The 1e-6 floors the correction where actions saturate, so it can change how
  hard the actor pushes to the bounds (HalfCheetah's best gaits sit there).
* temperature-first: SB3's order on each batch, the temperature step first (from a sample of the current
  actor), then the critic with the new temperature, then the actor; derl's is critic, actor, temperature.
* both.

ppo-hopper (PPO, Hopper-v5 1M; about 25-30 min a run here):
* sb3-value-clip: SB3's clipped value loss, the squared error of the value clipped to old +- clip only, instead
  of derl's (CleanRL's) larger of the clipped and unclipped errors. SB3's form has no gradient where the value
  moved past the clip range, so under the one global grad-norm clip the policy's share of each step is larger.
* no-value-clip: no value clipping at all (derl's --no-clip-value-loss; Andrychowicz et al. 2021 found it
  does not help). It closed the gap, so it is derl's MuJoCo default since; the variants are measured against
  the learning benchmark's revision-1 runs of the case (value clipping on in both libraries), AGAINST below.

ppo-breakout (PPO, BreakoutNoFrameskip-v4 1M, derl on EnvPool, its default backend; about 65-70 min a run here
with two at a time): value clipping is on for Atari in both libraries, each in its own form (learning.md).
* sb3-eval: SB3's evaluation, not its training: the evaluation env is derl's training stack, so a lost life
  ends an internal episode and restarts the frame stack (as make_atari_env's env does for evaluate_policy),
  scores still whole games. Training is the default's to the last step (same seed, PeriodicEval uses no random
  number training does), so each evaluation pairs with the stored default run's at the same step. Breakout's
  training returns are level between the libraries while SB3's evaluation scores are higher: the first suspect.
* sb3-value-clip: SB3's clip-only value loss, as for ppo-hopper above.
* no-value-clip: no value clipping (what closed the MuJoCo gap).
* sb3-life-starts: SB3's life starts on EnvPool. EnvPool's own reset after a lost life is 0-29 no-op frames and
  a one-frame FIRE; SB3's AtariWrapper (and derl's gymnasium stack) steps NOOP, FIRE, RIGHT after a lost life
  and FIRE, RIGHT after a game's 1-30 no-op frames. With them EnvPool steps exactly as the gymnasium stack
  (tests/test_envpool.py), the stack derl was level with SB3 on, so this tests the env-stack gap at its place.
  It is derl's Atari default since (revision 2 of the case); the other variants keep EnvPool's own starts
  (patch envpool_starts), and all are measured against the learning benchmark's revision-1 runs, AGAINST below.

derl's default and SB3 are the learning benchmark's own stored runs of the case (same flags, same seeds, same
metric), not run again. A finished (variant, seed) is stored at once in bench/results/ablation/CASE/ with the
commit it ran on, seeds in rounds (every variant's seed 0, then seed 1, ...); the next invocation runs only what
is missing. The table (IQM with a 95% stratified-bootstrap interval, P(variant > derl's default) and
P(variant > SB3), rliable) is rebuilt into bench/results/ablation-CASE.md. Never in CI.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time

import numpy as np

import learning   # bench/learning.py: the cases, their metric, their stored runs and their statistics

# case -> variant -> (patches applied in the child, extra derl flags)
ABLATIONS = {
    "sac-halfcheetah": {"sb3-log-prob": (("log_prob",), []), "temperature-first": (("order",), []),
                        "both": (("log_prob", "order"), [])},
    "ppo-hopper": {"sb3-value-clip": (("value_clip",), ["--clip-value-loss", "true"]),
                   "no-value-clip": ((), ["--no-clip-value-loss"])},
    "ppo-breakout": {"sb3-eval": (("envpool_starts", "eval"), ["--env-backend", "envpool"]),
                     "sb3-value-clip": (("envpool_starts", "value_clip"), ["--env-backend", "envpool"]),
                     "no-value-clip": (("envpool_starts",), ["--env-backend", "envpool", "--no-clip-value-loss"]),
                     "sb3-life-starts": (("life_starts",), ["--env-backend", "envpool"])},
}
# the learning benchmark's derl variant the variants are measured against (a case with one derl variant: "derl")
BASE = {"ppo-breakout": "derl-envpool"}
# the learning benchmark's revision of the case the variants are measured against (its derl and SB3 rows): the
# ppo-hopper ablation is what changed that case's default (no value clipping on MuJoCo, revision 2)
AGAINST = {"ppo-hopper": 1, "ppo-breakout": 1}
TITLES = {"sac-halfcheetah": "SAC on HalfCheetah-v5", "ppo-hopper": "PPO on Hopper-v5",
          "ppo-breakout": "PPO on BreakoutNoFrameskip-v4 (derl on EnvPool)"}


def out_dir(case: str) -> str:
    return os.path.join(learning.STORE if learning.SMOKE else learning.RESULTS, "ablation", case)


def table_path(case: str) -> str:
    return os.path.join(learning.RESULTS, f"ablation-{case}.md")


# ------------------------------------------------------------------------------------------- the child: patch, run
def sb3_log_prob(normal, u):
    """SB3's squashed log-probability: log N(u) - sum log(1 - tanh(u)^2 + 1e-6)."""
    import torch
    return (normal.log_prob(u) - torch.log(1.0 - torch.tanh(u) ** 2 + 1e-6)).sum(-1)


def temperature_first(alg_class):
    """An Alg constructor that puts SAC's temperature step first. The temperature loss reads the current actor's
    log-probabilities from its own sample (derl's reads the actor step's, which SB3 shares between the two)."""
    import torch

    def build(runner, data, steps, *args, **kwargs):
        (critic, c_opt), (actor, a_opt), (temperature, t_opt) = steps
        loss = temperature.__self__   # the SACLoss the three steps are bound to

        def first(batch, extras):
            with torch.no_grad():
                _, log_prob = loss.policy.model.sample(batch.observations)
            return loss.temperature_loss(batch, {"new_log_prob": log_prob})
        return alg_class(runner, data, [(first, t_opt), (critic, c_opt), (actor, a_opt)], *args, **kwargs)
    return build


def sb3_value_error(values, old_values, targets, clip=None):
    """SB3's PPO value error: with a clip range, the squared error of the clipped values only."""
    if clip is not None:
        values = old_values + (values - old_values).clamp(-clip, clip)
    return (values - targets).pow(2)


_ATARI = {}   # derl's own Atari env builders, kept by the "eval" patch


def training_stack_single(env_id, training=True, render_mode=None, **env_kwargs):
    return _ATARI["make_single"](env_id, True, render_mode, **env_kwargs)


def training_stack_task(env_id, training=True):
    return _ATARI["envpool_task"](env_id, True)


def patch(name: str):
    if name == "log_prob":
        import derl_sac.sac as sac
        sac.squashed_log_prob = sb3_log_prob      # Actor.sample looks it up in the module at each call
    elif name == "order":
        import derl_sac.sac as sac
        sac.Alg = temperature_first(sac.Alg)      # SACFactory.build looks Alg up in the module
    elif name == "eval":
        # SB3's Atari evaluation: the training stack (a lost life ends an internal episode, the frame stack
        # restarts zero-padded, FIRE through the reset), scored over whole games. Training is untouched, and
        # PeriodicEval draws no random number training uses: the run trains exactly as derl's default does
        import derl_core.env.atari as atari
        _ATARI.update(make_single=atari.make_single, envpool_task=atari.envpool_task)
        atari.make_single, atari.envpool_task = training_stack_single, training_stack_task
    elif name in ("envpool_starts", "life_starts"):
        # EnvPool's own life starts (derl's Atari default in revision 1 of the case, which the variants measured
        # against it keep) or SB3's (derl_core/env/atari.py envpool_task: no-ops at a game's start only, FIRE,
        # RIGHT after it and NOOP, FIRE, RIGHT after a lost life, all hidden from the learner)
        import derl_core.env.atari as atari
        atari.envpool_task = functools.partial(atari.envpool_task, sb3_starts=name == "life_starts")
    elif name == "value_clip":
        import derl_ppo.ppo as ppo
        ppo.value_error = sb3_value_error         # PPOLoss looks it up in the module at each call
    else:
        raise KeyError(name)


def child(case: str, variant: str, argv: list):
    from derl_core.cli import main as derl_main
    for name in ABLATIONS[case][variant][0]:
        patch(name)
    sys.argv = ["derl", *argv]
    derl_main()


# ---------------------------------------------------------------------------------------------- the parent
def stored(case: str, variant: str, seed: int) -> str:
    return os.path.join(out_dir(case), f"{variant}__seed{seed}.json")


def launcher(case: str):
    def launch(variant: str, seed: int, workdir: str):
        out = os.path.join(workdir, f"{variant}__{seed}")
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", case, variant,
                                 *learning.derl_argv(case, seed, out), *ABLATIONS[case][variant][1]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"))
        return proc, out
    return launch


def finisher(case: str):
    def finish(variant, seed, proc, out, started, code):
        _, err = proc.communicate()
        if proc.returncode != 0:
            print(f"{variant} seed {seed} failed ({proc.returncode}): {err.strip()[-500:]}", file=sys.stderr,
                  flush=True)
            return
        steps = learning.CASES[case][2]
        evals, train = learning.derl_curves(out)
        result = {"case": case, "variant": variant, "seed": seed, "steps": steps, "commit": code,
                  "score": learning.score_of(evals, steps), "evals": evals, "train": learning.thin(train, learning.TRAIN_POINTS),
                  "seconds": round(time.time() - started, 1), "date": time.strftime("%Y-%m-%d %H:%M")}
        learning.store_json(stored(case, variant, seed), result)
        print(f"{variant} seed {seed}: score {result['score']:.1f} ({result['seconds']:.0f} s)", flush=True)
    return finish


def table(case: str, seeds: int) -> str:
    rev = AGAINST.get(case, learning.revision(case))
    base = "derl (default)" if rev == learning.revision(case) else f"derl (default of revision {rev})"
    rows = {base: learning.load(case, BASE.get(case, "derl"), rev), "sb3": learning.load(case, "sb3", rev)}
    rows.update({v: [json.load(open(stored(case, v, s))) for s in range(seeds) if os.path.exists(stored(case, v, s))]
                 for v in ABLATIONS[case]})
    scores = {name: np.array([[r["score"]] for r in runs]) for name, runs in rows.items() if runs}
    lines = [f"# {TITLES[case]} ({learning.CASES[case][2]} steps): the suspects of the gap to SB3",
             "", "Score and intervals as in learning.md (its derl and SB3 runs are the first two rows). Variants: "
             "bench/ablation.py.", "",
             "| variant | seeds | IQM [95% CI] | P(> derl default) | P(> SB3) | per seed | commits |",
             "|-|-|-|-|-|-|-|"]
    for name, runs in rows.items():
        if not runs:
            lines.append(f"| {name} | 0/{seeds} | not run yet | | | | |")
            continue
        x = scores[name]
        point, lo, hi = learning.iqm_ci(x)
        probs = []
        for other in (base, "sb3"):
            prob = learning.finished_improvement(x, scores[other], seeds) if other != name and other in scores else None
            probs.append(f"{prob[0]:.2f} [{prob[1]:.2f}, {prob[2]:.2f}]" if prob else "")
        per_seed = ", ".join(f"{r['seed']}: {learning.score_text(r['score'])}" for r in runs)
        commits = ", ".join(sorted({r["commit"] for r in runs}))
        lines.append(f"| {name} | {len(runs)}/{seeds} | {point:.1f} [{lo:.1f}, {hi:.1f}] | {probs[0]} | {probs[1]} "
                     f"| {per_seed} | {commits} |")
    lines += paired(rows[base], {v: rows[v] for v in ABLATIONS[case]})
    return "\n".join(lines) + "\n"


def paired(defaults: list, variants: dict) -> list:
    """A variant run that trained exactly as the default run of its seed (the same training curve, compared as
    the learning store keeps it: a variant that changes only the evaluation) pairs with it at every evaluation.
    Per such pair: the mean over all evaluations of variant minus default, and over the scored last 10%."""
    def kept(train):
        return [list(p) for p in learning.thin(train, learning.TRAIN_POINTS)]
    by_seed = {r["seed"]: r for r in defaults}
    rows = []
    for name, runs in variants.items():
        for r in runs:
            d = by_seed.get(r["seed"])
            if d is None or not r.get("train") or kept(r["train"]) != kept(d.get("train", [])):
                continue
            diff = [(s, v - dv) for (s, v), (ds, dv) in zip(r["evals"], d["evals"]) if s == ds]
            late = [x for s, x in diff if s >= 0.9 * r["steps"]]
            wins = sum(x > 0 for _, x in diff)
            rows.append(f"| {name} | {r['seed']} | {len(diff)} | {np.mean([x for _, x in diff]):+.1f} | "
                        f"{wins}/{len(diff)} | {np.mean(late):+.1f} |")
    return learning.section("Paired with the default's runs", "Variant runs whose training curve equals the default "
                            "run's of the same seed episode for episode (the variant changes the evaluation only): "
                            "the same policies, evaluated both ways at the same steps.",
                            ["variant", "seed", "evaluations", "mean difference (variant - default)", "variant higher",
                             "difference in the scored last 10%"], rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", choices=list(ABLATIONS))
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: the case's, 5)")
    ap.add_argument("--first-seed", type=int, default=0,
                    help="run seeds from this one on (two invocations at once take disjoint seeds)")
    ap.add_argument("--only", nargs="+")
    ap.add_argument("--max-minutes", type=float, default=None, help="launch no new run after M minutes")
    ap.add_argument("--table", action="store_true", help="only rebuild the table from what is stored")
    ap.add_argument("--smoke", type=float, default=None,
                    help="a fraction of the budget, 2 seeds, stored in a temporary folder (tests the script)")
    ap.add_argument("--child", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2:])
        return
    case = args.case
    if case is None:
        ap.error(f"--case is required (one of {', '.join(ABLATIONS)})")
    unknown = sorted(set(args.only or []) - set(ABLATIONS[case]))
    if unknown:
        ap.error(f"--only: {', '.join(unknown)} not a variant of {case} (choose from {', '.join(ABLATIONS[case])})")
    if args.smoke and not learning.SMOKE:
        learning.smoke_reexec(args.smoke, f"derl-ablation-{case}-smoke-")
    seeds = args.seeds or learning.CASES[case][3]
    if not 0 <= args.first_seed < seeds:
        ap.error(f"--first-seed {args.first_seed}: must be at least 0 and below --seeds ({seeds})")
    os.makedirs(out_dir(case), exist_ok=True)
    todo = [] if args.table else [(v, s) for s in range(args.first_seed, seeds) for v in ABLATIONS[case]
                                  if (args.only is None or v in args.only) and not os.path.exists(stored(case, v, s))]
    learning.run_all(todo, launcher(case), finisher(case), args.parallel, args.max_minutes)
    text = table(case, max(seeds, learning.CASES[case][3]))   # an invocation for fewer seeds keeps the case's count
    with open(table_path(case), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
