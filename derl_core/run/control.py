"""Run control: checkpoints at the runner's clean points, and SIGINT/SIGTERM acted on within one env step.

A clean point is the moment before a rollout, when every wrapper has consumed the previous one: a checkpoint
written there resumes exactly. A signal that arrives at or before a clean point (during updates) is answered
there with a checkpoint; one that arrives during collection stops the run after the current env step, keeping
the last clean point's checkpoint (a rollout cut in the middle cannot be resumed exactly). A second Ctrl-C
stops at once."""
from __future__ import annotations

import signal

import torch

from ..rl.alg import check_finite
from . import checkpoint as ckpt

REPLAY_AUTO_LIMIT = 1 << 30   # replays under 1 GiB are saved with every checkpoint unless --no-save-replay


class Interrupted(Exception):
    def __init__(self, signum: int, clean: bool = True):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.clean = signum, clean
        self.exit_code = 128 + signum


class NotedSignals:
    """SIGINT and SIGTERM noted, not raised: a run's clean points and step hooks (RunControl) and a sweep's or a
    tune's driver loop (each pass waits on Ray at most a second) read `signum` and stop there. A KeyboardInterrupt
    raised wherever the signal lands could land inside Ray's own code and be lost there (a sweep then ran to its
    end). A second Ctrl-C stops at once."""

    def __init__(self):
        self.signum = None
        self.previous = {}

    def _note(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt   # a second Ctrl-C: stop now
        self.signum = signum

    def install(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self._note)
            except ValueError:   # not the main thread (e.g. some test runners): no signal handling
                pass

    def restore(self):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}


class TrainingFailed(Exception):
    """Training stopped (NaN, dead env worker); the message says why and which checkpoint to use."""


def replay_nbytes(alg) -> int:
    replay = alg.checkpointables.get("replay")
    return int(getattr(replay, "nbytes", 0)) if replay is not None else 0


def saves_replay(alg, save_replay) -> bool:
    """--save-replay true/false, or by default (None) when the replay is under REPLAY_AUTO_LIMIT."""
    return save_replay if save_replay is not None else replay_nbytes(alg) < REPLAY_AUTO_LIMIT


class RunControl:
    def __init__(self, run_dir, alg, venv, summary, record, every, keep, save_replay, exact, signals=True):
        self.run_dir, self.alg, self.venv, self.summary, self.record = run_dir, alg, venv, summary, record
        self.every, self.keep, self.exact = every, keep, exact
        self.save_replay = saves_replay(alg, save_replay)
        self.runner = alg.runner
        self.last_saved = self.runner.step_count
        self.boundary_step = self.runner.step_count
        self.signals = signals   # False inside a Ray task (a sweep's run): Ray owns the process's signals
        self.noted = NotedSignals()

    @property
    def signum(self):
        return self.noted.signum

    def payload(self) -> dict:
        state = {name: obj.state_dict() for name, obj in self.alg.checkpointables.items()
                 if name not in self.alg.OPTIONAL or self.save_replay}
        payload = {"algorithm": self.record.algorithm, "config": ckpt.fingerprint(self.record), "alg": state,
                   "summary": self.summary.state_dict(), "rng": ckpt.rng_state()}
        if self.exact and self.runner.obs is not None:
            payload["env"] = ckpt.env_state(self.venv)
            payload["runner_obs"] = self.runner.obs
        return payload

    def save(self) -> str:
        modules = {k: v for k, v in self.alg.checkpointables.items() if isinstance(v, torch.nn.Module)}
        check_finite(modules, self.runner.step_count)
        self.last_saved = self.runner.step_count
        return ckpt.save(self.run_dir, self.payload(), self.runner.step_count, self.keep)

    def save_best(self, eval_return: float) -> str:
        """best.pt: this clean point's state without the replay, and the mean eval return that made it best."""
        save_replay, self.save_replay = self.save_replay, False
        try:
            payload = dict(self.payload(), eval_return=float(eval_return))
        finally:
            self.save_replay = save_replay
        return ckpt.save(self.run_dir, payload, self.runner.step_count, keep=0)

    def hook(self, runner):
        """A clean point: checkpoint when due, and answer a pending signal with a checkpoint."""
        self.boundary_step = runner.step_count
        if self.signum is not None:
            self.save()
            raise Interrupted(self.signum)
        if runner.step_count - self.last_saved >= self.every:
            self.save()

    def step_hook(self, runner):
        if self.signum is not None:
            raise Interrupted(self.signum, clean=False)

    def __enter__(self):
        self.runner.hooks.insert(0, self.hook)
        self.runner.step_hooks.append(self.step_hook)
        if self.signals:
            self.noted.install()
        return self

    def __exit__(self, *exc):
        self.runner.hooks.remove(self.hook)
        self.runner.step_hooks.remove(self.step_hook)
        self.noted.restore()
        return False
