"""What a run sends beyond metrics.jsonl and TensorBoard's scalars: Weights & Biases (--track), TensorBoard's
HParams dashboard and GIF videos, metrics.csv. (Videos during training are played by evaluate.VideoCapture.)

None of them touches the training's random numbers, so a run trains identically with and without them."""
from __future__ import annotations

import csv
import io
import os
import secrets

import numpy as np

from ..errors import BadInput, first_line
from .fence import Dir

CSV = "metrics.csv"
WANDB_ID = "wandb-id"
TB_GIF_FRAMES = 300   # TensorBoard gets at most this many frames of a video (every k-th frame)


# ---------------------------------------------------------------------------------------------- metrics.csv
def write_csv(run_dir: str):
    """metrics.csv, rebuilt from metrics.jsonl (so it holds the same numbers): one row per logged value,
    columns step, metric, value (tidy: `pandas.read_csv(...).pivot_table(index="step", columns="metric")`
    gives the wide table)."""
    from .rundir import read_metrics
    try:
        rows = read_metrics(run_dir)
    except BadInput:
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "metric", "value"])
    for row in rows:
        for key, value in row.items():
            if key != "step":
                writer.writerow([row["step"], key, repr(float(value))])
    with Dir(run_dir) as d:
        d.write(CSV, out.getvalue())


# ---------------------------------------------------------------------------------------------- TensorBoard
def hparams_summaries(hparams: dict, metrics: tuple) -> list:
    """The three summaries of TensorBoard's HParams plugin (experiment, session start, session end)."""
    from torch.utils.tensorboard.summary import hparams as make
    clean = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in hparams.items()}
    return list(make(clean, {m: 0.0 for m in metrics}))


def gif_summary(tag: str, frames: list, fps: int):
    """An image summary holding an animated GIF: what SummaryWriter.add_video writes, without moviepy."""
    import imageio.v2 as imageio
    from tensorboard.compat.proto.summary_pb2 import Summary
    k = max(1, -(-len(frames) // TB_GIF_FRAMES))
    frames = [np.asarray(f, dtype=np.uint8) for f in frames[::k]]
    buffer = io.BytesIO()
    imageio.mimsave(buffer, frames, format="GIF", duration=1000 * k / fps, loop=0)
    h, w = frames[0].shape[:2]
    image = Summary.Image(height=h, width=w, colorspace=frames[0].shape[2] if frames[0].ndim == 3 else 1,
                          encoded_image_string=buffer.getvalue())
    return Summary(value=[Summary.Value(tag=tag, image=image)])


# ---------------------------------------------------------------------------------------------- W&B
def check_track(run: dict):
    """--track needs wandb; the W&B options need --track. Checked before the run directory is made."""
    given = [f"--{k.replace('_', '-')}" for k in ("wandb_project", "wandb_entity", "wandb_group") if run.get(k)]
    if given and not run.get("track"):
        raise BadInput(f"{given[0]} needs --track")
    if run.get("track"):
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise BadInput("--track needs Weights & Biases: pip install 'derl[track]'") from None


class WandbSink:
    """A W&B run for a derl run: the resolved configuration, every scalar derl logs (CleanRL's names, against
    `global_step`, the env-step clock) and the videos. The W&B run's id is kept in RUN/wandb-id, so a resumed
    derl run continues the same W&B run. Its files go to RUN/wandb/."""

    def __init__(self, run_dir: str, record, fresh: bool):
        import wandb
        self.wandb = wandb
        opts = record.run
        with Dir(run_dir) as d:
            if not fresh and d.kind(WANDB_ID) == "file":
                run_id = d.read_text(WANDB_ID, limit=256).strip()
            else:
                run_id = secrets.token_hex(8)
                d.write(WANDB_ID, run_id + "\n")
        if not run_id.isalnum():
            raise BadInput(f"'{os.path.join(run_dir, WANDB_ID)}' is not a W&B run id")
        config = {"algorithm": record.algorithm, "env_id": record.env_id, "seed": record.seed,
                  "family": record.family, "device": record.device, **record.hyperparameters,
                  **{f"run/{k}": v for k, v in opts.items()}}
        try:
            self.run = wandb.init(project=opts.get("wandb_project") or "derl", entity=opts.get("wandb_entity"),
                                  group=opts.get("wandb_group"), name=os.path.basename(os.path.abspath(run_dir)),
                                  id=run_id, resume="allow", dir=run_dir, config=config,
                                  settings=wandb.Settings(console="off", silent=True))
        except Exception as exc:   # no network and no WANDB_MODE=offline, say
            raise BadInput(f"--track: W&B could not start a run: {type(exc).__name__}: {first_line(exc)} "
                           f"(WANDB_MODE=offline tracks without a network)") from None
        self.run.define_metric("global_step")
        self.run.define_metric("*", step_metric="global_step")

    def scalar(self, tag: str, value: float, step: int):
        self.run.log({tag: value, "global_step": step})

    def video(self, tag: str, path: str, step: int):
        self.run.log({tag: self.wandb.Video(path, format=os.path.splitext(path)[1][1:]), "global_step": step})

    def close(self):
        self.run.finish()
