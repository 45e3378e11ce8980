"""Train and resume: the path of one run.

Everything is checked and built before the run directory is touched (build.py): hyperparameters (the same
resolver for the command line and for a config.json read back), the env, the memory the algorithm will need,
the Alg itself, and on resume the checkpoint and whether it fits. Only then does derl create the directory
(or write into it), save a step-0 checkpoint, and learn. Run-directory I/O lives in rundir.py, run control
(checkpoints at clean points, signals) in control.py."""
from __future__ import annotations

import os
import sys
import time

from .. import config as cfg
from ..errors import BadInput
from ..rl.alg import NonFiniteError
from ..rl.rollout import EnvError
from . import checkpoint as ckpt
from . import rundir
from .build import BuiltRun, close_env, load_run_checkpoint, prepare, resolve_device, restore
from .control import Interrupted, RunControl, TrainingFailed, replay_nbytes
from .evaluate import VideoCapture, periodic_eval
from .fence import Lock
from .record import RunRecord, check_env_id, check_seed, resolve_options
from .track import WandbSink, check_track

__all__ = ["train", "resume", "Interrupted", "TrainingFailed"]


def default_logdir(env_id: str, alg: str, seed: int) -> str:
    return os.path.join("runs", f"{env_id.replace('/', '-')}__{alg}__{seed}__{int(time.time())}")


def hyperparameter_table(hparams: dict) -> str:
    rows = "\n".join(f"|{k}|{v}|" for k, v in hparams.items())
    return "|hyperparameter|value|\n|-|-|\n" + rows


def _learn(registry, run_dir, record, built: BuiltRun, echo, state=None, signals=True, callbacks=(),
           evaluator=None, video=None):
    """Learns with checkpoints at clean points; a fresh run first saves a step-0 checkpoint. `video`: a
    VideoCapture (--capture-video)."""
    venv, hparams, alg, summary = built.venv, built.hparams, built.alg, built.summary
    alg.callbacks = list(callbacks)
    total = hparams["total_steps"]
    opts = record.run
    family = registry.family_for(record.env_id)
    exact = family.exact_resume and hasattr(venv.unwrapped, "envs")
    try:
        summary.open(run_dir)
        if opts.get("track"):
            summary.sinks.append(WandbSink(run_dir, record, fresh=state is None))
        if state is None:
            summary.hparams({"algorithm": record.algorithm, "env_id": record.env_id, "seed": record.seed,
                             **hparams})
            summary.text("hyperparameters", hyperparameter_table(hparams))
            summary.text("env", f"{record.env_id}: family {family.name}, backend "
                                f"{getattr(venv, 'backend', 'ray workers')}")
        every = opts.get("checkpoint_every") or max(1, min(total // 10, 250_000))
        control = RunControl(run_dir, alg, venv, summary, record, every, opts.get("keep_checkpoints", 3),
                             opts.get("save_replay"), exact, signals)
        if state is None:
            control.save()   # step 0: a run killed before its first periodic checkpoint can be resumed
        with control:
            if evaluator is not None:   # before the checkpoint of the same clean point: a resume does not repeat it
                evaluator.last = control.runner.step_count
                evaluator.best = best_so_far(run_dir) if state is not None else evaluator.best
                evaluator.on_best = control.save_best
                control.runner.hooks.insert(0, evaluator.hook)
            if video is not None:
                video.run_dir, video.seen = run_dir, summary.episodes
                control.runner.hooks.insert(0, video.hook)
            if opts.get("stop_at_return") is not None:
                alg.callbacks.append(StopAtReturn(opts["stop_at_return"], summary, evaluator, echo))
            try:
                alg.learn(total)
            except NonFiniteError as exc:
                raise TrainingFailed(f"training stopped: {exc}; {_last_good(run_dir)}; resume it with 'derl "
                                     f"resume {run_dir}' or start again with other hyperparameters") from None
            except EnvError as exc:
                control.runner.step_count = control.boundary_step
                control.exact = False
                path = control.save()
                raise TrainingFailed(f"training stopped: {exc}; saved {path}; continue with: "
                                     f"derl resume {run_dir}") from None
            except Interrupted as exc:
                summary.close(flush=False)
                if exc.clean:
                    echo(f"interrupted at step {control.runner.step_count}; checkpoint saved; continue with: "
                         f"derl resume {run_dir}")
                else:
                    echo(f"interrupted during a rollout at step {control.runner.step_count}; kept the last "
                         f"clean checkpoint (step {control.last_saved}); continue with: derl resume {run_dir}")
                raise
            control.save()
    finally:
        for extra in (evaluator, video):
            if extra is not None:
                extra.close()
        summary.close()
        close_env(venv, run_dir)
    ret = summary.mean_return
    how = f"mean return of last 100 episodes: {ret:.1f}" if ret == ret else "no episode finished yet"
    echo(f"run saved in {run_dir} ({how}); view it with: tensorboard --logdir {run_dir}")
    return run_dir


class StopAtReturn:
    """--stop-at-return R: stops the run (at a clean point, with a checkpoint) once the mean return reaches R —
    of the last 100 training episodes, or of the latest evaluation when the run evaluates (--eval-every)."""

    def __init__(self, threshold: float, summary, evaluator=None, echo=print):
        self.threshold, self.summary, self.evaluator, self.echo = threshold, summary, evaluator, echo

    def __call__(self, step: int, metrics: dict) -> bool:
        what, value = (("eval", self.evaluator.latest) if self.evaluator is not None
                       else ("training (last 100 episodes)", self.summary.mean_return))
        if value is not None and value == value and value >= self.threshold:
            self.echo(f"stopping at step {step}: mean {what} return {value:.1f} reached --stop-at-return "
                      f"{self.threshold:g}")
            return True
        return False


def best_so_far(run_dir: str) -> float:
    """The mean eval return best.pt was kept for (-inf when the run has none, or it is damaged)."""
    path = ckpt.best_path(run_dir)
    if not os.path.lexists(path):
        return float("-inf")
    try:
        return float(ckpt.load(path).get("eval_return", float("-inf")))
    except BadInput:
        return float("-inf")


def _last_good(run_dir: str) -> str:
    found = ckpt.list_checkpoints(run_dir)
    return f"the last good checkpoint is {found[-1]}" if found else "no checkpoint was written before it"


def _stderr(message: str):
    print(message, file=sys.stderr)


# ---------------------------------------------------------------------------------------------- commands
def train(registry, alg_name: str, env_id: str, overrides: dict, logdir: str | None = None, seed: int = 1,
          device: str = "auto", progress: bool = True, echo=print, signals: bool = True,
          envs_per_worker: int | None = None, callbacks=(), **options) -> str:
    """Trains a new run. `options`: the run options of `record.RUN_OPTIONS` (checkpoint_every,
    keep_checkpoints, save_replay, threads, workers, ray_address, eval_every, eval_episodes, env_backend),
    checked by the same resolver as the command line's."""
    check_seed(seed)
    check_env_id(env_id)
    run = resolve_options(options)
    workers, ray_address = run["workers"], run["ray_address"]
    spec = registry.algorithm(alg_name)
    family = registry.family_for(env_id)
    from ..preset import resolve as resolve_with_preset
    hparams, sources = resolve_with_preset(spec, registry, env_id, overrides, run["preset"])
    if workers:
        per = envs_per_worker or max(1, hparams["num_envs"] // workers)
        if "num_envs" in overrides and hparams["num_envs"] != workers * per:
            raise BadInput(f"--num-envs {hparams['num_envs']} is not --workers {workers} x --envs-per-worker "
                           f"{per}; give --workers and --envs-per-worker only")
        hparams["num_envs"] = workers * per
        cfg.check_together(spec, hparams)
    elif envs_per_worker or ray_address:
        raise BadInput("--envs-per-worker and --ray-address need --workers N")
    if run["eval_episodes"] and not run["eval_every"]:
        raise BadInput("--eval-episodes needs --eval-every STEPS")
    if run["video_every"] and not run["capture_video"]:
        raise BadInput("--video-every needs --capture-video")
    check_track(run)
    logdir = default_logdir(env_id, alg_name, seed) if logdir is None else logdir
    rundir.check_logdir(logdir)
    device = resolve_device(device)
    record = RunRecord(alg_name, env_id, seed, hparams, run, family.name, device, spec.distribution, spec.version,
                       sources)
    built = prepare(registry, record, device, progress, threads=run["threads"])
    lock = evaluator = video = None
    try:
        evaluator = periodic_eval(registry, record, built.alg, built.venv, built.summary)
        video = video_capture(registry, record, built)
        rundir.create_run(logdir, record)
        lock = Lock(logdir).__enter__()   # the run's writer, from the moment it exists
    except BaseException:
        for extra in (evaluator, video):
            if extra is not None:
                extra.close()
        close_env(built.venv)
        raise
    try:
        return _learn(registry, logdir, record, built, echo, signals=signals, evaluator=evaluator,
                      callbacks=callbacks, video=video)
    finally:
        lock.__exit__()


def video_capture(registry, record: RunRecord, built: BuiltRun) -> VideoCapture | None:
    return VideoCapture(registry, record, built.alg, built.venv, built.summary) if record.run["capture_video"] else None


def resume(registry, run_dir: str, total_steps: int | None = None, checkpoint: str | None = None,
           progress: bool = True, echo=print, notice=_stderr, signals: bool = True, callbacks=()) -> str:
    """Continues a run from its newest intact checkpoint (or `checkpoint`), holding the run's lock: a second
    writer gets one line naming this one."""
    rundir.read_run(run_dir)   # a directory that is not a derl run gets no lock file (nothing written)
    with Lock(run_dir):
        return _resume(registry, run_dir, total_steps, checkpoint, progress, echo, notice, signals, callbacks)


def _resume(registry, run_dir, total_steps, checkpoint, progress, echo, notice, signals, callbacks=()) -> str:
    record = rundir.read_run(run_dir)
    spec, family = record.validate(registry, os.path.join(run_dir, rundir.CONFIG))
    hparams = record.hyperparameters
    path, state = load_run_checkpoint(run_dir, record, checkpoint, "resume from", notice)
    start = state["step"] if state else 0
    old_total = hparams["total_steps"]
    if total_steps is not None:
        total_steps = cfg.parse_value(next(h for h in spec.hyperparameters if h.name == "total_steps"),
                                      total_steps)   # the resolver a fresh run's --total-steps goes through
        if total_steps <= start:
            raise BadInput(f"--total-steps {total_steps} is not beyond the checkpoint's step {start}")
        hparams["total_steps"] = total_steps
        cfg.check_together(spec, hparams)
    if start >= hparams["total_steps"]:
        raise BadInput(f"'{run_dir}' already reached its {hparams['total_steps']} steps; "
                       f"pass --total-steps N to train further")
    device = resolve_device(record.device)
    opts = record.run
    built = prepare(registry, record, device, progress, start, opts.get("threads"), fresh=state is None)
    venv, hparams, alg, summary = built.venv, built.hparams, built.alg, built.summary
    evaluator = video = None
    try:
        check_track(record.run)
        evaluator = periodic_eval(registry, record, alg, venv, summary)
        video = video_capture(registry, record, built)
        exact = family.exact_resume and hasattr(venv.unwrapped, "envs")
        if state is not None:
            restore(alg, summary, venv, record, state, path, exact)
            if "replay" in alg.checkpointables and "replay" not in state["alg"]:
                echo(f"note: {os.path.basename(path)} holds no replay buffer (--save-replay was off, or the "
                     f"replay needs {replay_nbytes(alg) / (1 << 30):.1f} GiB); learning restarts from an empty "
                     f"buffer once it holds {hparams.get('learning_starts', 'enough')} transitions again")
        else:
            echo(f"'{run_dir}' has no checkpoint yet: training it from step 0")
        # everything is checked and built: only now is the run directory written to
        rundir.remove_partials(run_dir)
        moved = ckpt.supersede(run_dir, start)   # one timeline: a future this resume abandons is moved aside
        if moved:
            echo(f"note: moved {len(moved)} checkpoint(s) after step {start} into "
                 f"{os.path.join(ckpt.checkpoint_dir(run_dir), 'superseded')}")
        if hparams["total_steps"] != old_total:
            rundir.write_config(run_dir, record)
        rundir.truncate_metrics(run_dir, start)
    except BaseException:
        for extra in (evaluator, video):
            if extra is not None:
                extra.close()
        close_env(venv)
        raise
    return _learn(registry, run_dir, record, built, echo, state=state, signals=signals, evaluator=evaluator,
                  callbacks=callbacks, video=video)
