"""`derl plot`: learning curves from the runs' own metrics.jsonl files (no TensorFlow needed)."""
from __future__ import annotations

import os
from collections import defaultdict

import numpy as np

from .errors import BadInput
from .run.rundir import output, read_metrics, read_run


def episode_returns(run_dir: str):
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.isfile(path):
        raise BadInput(f"'{run_dir}' has no metrics.jsonl to plot")
    steps, values = [], []
    for row in read_metrics(run_dir):
        value = row.get("charts/episodic_return")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            steps.append(row["step"])
            values.append(float(value))
    if not steps:
        raise BadInput(f"'{run_dir}' has no finished episode to plot yet")
    return np.array(steps), np.array(values)


def eval_returns(run_dir: str):
    """(steps, mean returns) of the run's periodic evaluations (--eval-every), or None."""
    rows = [r for r in read_metrics(run_dir) if isinstance(r.get("charts/eval_return"), (int, float))]
    if not rows:
        return None
    return np.array([r["step"] for r in rows]), np.array([float(r["charts/eval_return"]) for r in rows])


def smooth(values, window=20):
    cs = np.cumsum(np.insert(values, 0, 0.0))
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    return (cs[idx] - cs[lo]) / (idx - lo)


def plot(run_dirs: list, out: str = "curves.png", echo=print) -> str:
    groups = defaultdict(list)
    with output(out, "--out", (".png",)) as tmp:   # --out checked before the runs are read
        for run_dir in run_dirs:
            record = read_run(run_dir)
            groups[(record.algorithm, record.env_id)].append((*episode_returns(run_dir), eval_returns(run_dir)))
        _draw(groups, tmp)
    echo(f"wrote {out} ({sum(len(r) for r in groups.values())} runs in {len(groups)} groups)")
    return out


def _draw(groups: dict, out: str):

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    envs = sorted({env for _, env in groups})
    fig, axes = plt.subplots(1, len(envs), figsize=(6.4 * len(envs), 4.4), squeeze=False)
    for (alg, env), runs in sorted(groups.items()):
        ax = axes[0][envs.index(env)]
        end = max(steps[-1] for steps, _, _ in runs)
        grid = np.linspace(0, end, 200)
        curves = np.array([np.interp(grid, steps, smooth(vals), left=np.nan, right=np.nan)
                           for steps, vals, _ in runs])
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, lo, hi = np.nanmean(curves, 0), np.nanmin(curves, 0), np.nanmax(curves, 0)
        line, = ax.plot(grid, mean, lw=2, label=f"{alg} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
        ax.fill_between(grid, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        evals = [e for _, _, e in runs if e is not None]
        if evals:   # periodic deterministic evaluations: mean over the seeds that have them, dashed
            points = sorted(set().union(*[set(s.tolist()) for s, _ in evals]))
            means = [np.mean([v[list(s).index(p)] for s, v in evals if p in s]) for p in points]
            ax.plot(points, means, ls="--", marker="o", ms=3, color=line.get_color(),
                    label=f"{alg} eval (deterministic)")
        ax.set_title(env)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("episodic return (mean of last 20 episodes)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle("derl: mean over seeds, min–max band")
    fig.tight_layout()
    fig.savefig(out, dpi=150, format="png")
    plt.close(fig)
