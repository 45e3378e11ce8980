"""Summaries: TensorBoard with CleanRL's names, a plain metrics.jsonl (and metrics.csv, rebuilt from it when
the summary closes), the live progress display, and any further sinks (W&B: track.py)."""
from __future__ import annotations

import json
import math
import sys
import time
from collections import defaultdict, deque

from .rundir import open_metrics


class Summary:
    """Collects scalars; writes them at most every `log_interval` env steps.

    `record(stats)` averages what it is given until the next write; `episode(ret, length, step)` logs an
    episode at once. `step(step_count)` is called by the Alg after each update.
    """

    def __init__(self, logdir: str | None, total_steps: int, log_interval: int = 1000,
                 progress: bool = True, start_step: int = 0):
        self.logdir = None
        self.total_steps = total_steps
        self.log_interval = log_interval
        self._sums = defaultdict(float)
        self._counts = defaultdict(int)
        self._returns = deque(maxlen=100)
        self.episodes = 0
        self._last_write = start_step
        self._start_time = time.time()
        self._start_step = start_step
        self._step = None
        self._writer = None
        self._metrics = None
        self._progress = progress
        self.progress = None
        self.sinks = []   # objects with scalar(tag, value, step), video(tag, path, step), close(): W&B
        if logdir is not None:
            self.open(logdir)

    def open(self, logdir: str):
        """Starts writing into `logdir` (a Summary can be built, and handed to a Factory, before its run
        directory exists) and shows progress."""
        from torch.utils.tensorboard import SummaryWriter   # here: tensorboard takes a second to import
        self.logdir = logdir
        self._metrics = open_metrics(logdir)
        self._writer = SummaryWriter(logdir, purge_step=self._start_step if self._start_step else None)
        self._start_time = time.time()
        self.progress = Progress(self.total_steps, self._start_step) if self._progress else None

    # ---- recording
    def record(self, stats: dict):
        """Averages `stats` (tensors or floats) until the next write; tensors are read only then, so that
        the update loop never waits for the device."""
        for key, value in stats.items():
            self._sums[key] = self._sums[key] + (value.detach() if hasattr(value, "detach") else value)
            self._counts[key] += 1

    def episode(self, ret: float, length: int, step: int):
        self.episodes += 1
        self._returns.append(ret)
        self.scalar("charts/episodic_return", ret, step)
        self.scalar("charts/episodic_length", length, step)

    def scalar(self, tag: str, value: float, step: int):
        if self._writer is not None:
            self._writer.add_scalar(tag, value, step)
        if self._metrics is not None:
            self._metrics.write(json.dumps({"step": int(step), tag: float(value)}) + "\n")
        for sink in self.sinks:
            sink.scalar(tag, float(value), int(step))

    def video(self, tag: str, path: str, frames: list, step: int, fps: int = 30):
        """A video written at `path` (in the run directory): to TensorBoard as an animated GIF image (what
        TensorBoard shows; no moviepy needed) and to every sink."""
        if self._writer is not None and frames:
            from .track import gif_summary
            self._writer.file_writer.add_summary(gif_summary(tag, frames, fps), step)
        for sink in self.sinks:
            sink.video(tag, path, step)

    def hparams(self, hparams: dict, metrics: tuple = ("charts/episodic_return", "charts/eval_return")):
        """TensorBoard's HParams dashboard: the hyperparameters, and the scalar tags it shows beside them (their
        latest values, logged as usual)."""
        if self._writer is not None:
            from .track import hparams_summaries
            for summary in hparams_summaries(hparams, metrics):
                self._writer.file_writer.add_summary(summary)

    def text(self, tag: str, text: str):
        if self._writer is not None:
            self._writer.add_text(tag, text)

    @property
    def mean_return(self) -> float:
        return sum(self._returns) / len(self._returns) if self._returns else float("nan")

    def sps(self, step: int) -> float:
        return (step - self._start_step) / max(time.time() - self._start_time, 1e-9)

    def step(self, step: int):
        self._step = step
        if step - self._last_write >= self.log_interval:
            self.write(step)

    def write(self, step: int):
        """Writes the averages recorded since the last write."""
        self._last_write = step
        for key, total in self._sums.items():
            self.scalar(key, float(total) / self._counts[key], step)
        self._sums.clear()
        self._counts.clear()
        if self._writer is not None:   # wall-clock figures stay out of metrics.jsonl: it is reproducible
            self._writer.add_scalar("charts/SPS", self.sps(step), step)
        if self.progress is not None:
            self.progress.update(step, self.episodes, self.mean_return, self.sps(step))

    def state_dict(self) -> dict:
        return {"episodes": self.episodes, "returns": list(self._returns),
                "sums": {key: float(value) for key, value in self._sums.items()},
                "counts": dict(self._counts), "last_write": self._last_write}

    def load_state_dict(self, state: dict):
        self.episodes = int(state["episodes"])
        self._returns.clear()
        self._returns.extend(state["returns"])
        self._sums.clear()
        self._sums.update(state["sums"])
        self._counts.clear()
        self._counts.update(state["counts"])
        self._last_write = state["last_write"]

    def close(self, flush: bool = True):
        """`flush=False` keeps averages not yet written out of the files (an interrupted run's checkpoint
        carries them, and the resumed run writes them)."""
        if flush and self._sums and self._step is not None:
            self.write(self._step)
        if self.progress is not None:
            self.progress.close()
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
            from .track import write_csv
            write_csv(self.logdir)
        for sink in self.sinks:
            sink.close()
        self.sinks = []


class Progress:
    """A rich bar on a terminal; a plain line every few seconds otherwise."""

    def __init__(self, total: int, start: int = 0, plain_every: float = 5.0, console=None):
        self.total, self.plain_every = total, plain_every
        self._last_plain = 0.0
        self._rich = None
        if console is not None or sys.stdout.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeRemainingColumn)
            console = console or Console()
            narrow = console.width < 110   # the bar goes first: the numbers must stay whole at 80 columns
            columns = [TextColumn("[bold]training"), *([] if narrow else [BarColumn()]), MofNCompleteColumn(),
                       TextColumn("{task.fields[sps]:>6.0f} steps/s"), TextColumn("ep {task.fields[eps]}"),
                       TextColumn("R100 {task.fields[ret]}"), TimeRemainingColumn()]
            self._rich = RichProgress(*columns, console=console)
            self._task = self._rich.add_task("train", total=total, completed=start, sps=0.0, eps=0, ret="-")
            self._rich.start()

    def update(self, step, episodes, mean_return, sps):
        ret = "-" if math.isnan(mean_return) else f"{mean_return:.1f}"
        if self._rich is not None:
            self._rich.update(self._task, completed=min(step, self.total), sps=sps, eps=episodes, ret=ret)
            return
        now = time.time()
        if now - self._last_plain >= self.plain_every or step >= self.total:
            self._last_plain = now
            eta = max(self.total - step, 0) / sps if sps > 0 else float("nan")
            print(f"step {step}/{self.total}  {sps:.0f} steps/s  episodes {episodes}  "
                  f"return(100) {ret}  eta {eta:.0f}s", flush=True)

    def close(self):
        if self._rich is not None:
            self._rich.stop()
            self._rich = None
