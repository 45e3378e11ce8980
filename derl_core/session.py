"""The path of one run: resolve hyperparameters, make the env, build with the Factory, learn, checkpoint.

Everything that can be wrong with the user's input is checked before the run directory exists; a BadInput
raised while setting up still removes the directory this run created (and nothing else). Once training has
started, derl keeps what it wrote: checkpoints at clean points (before a rollout), on SIGINT/SIGTERM, at the
end; a NaN or a dead env worker stops the run with the last good checkpoint kept."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import time

from . import checkpoint as ckpt
from . import config as cfg
from .errors import BadInput
from .spec import load_object

CONFIG = "config.json"


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class TrainingFailed(Exception):
    """Training stopped (NaN, dead env worker); the message says why and which checkpoint to use."""


def default_logdir(env_id: str, alg: str, seed: int) -> str:
    return os.path.join("runs", f"{env_id.replace('/', '-')}__{alg}__{seed}__{int(time.time())}")


def check_logdir(logdir: str):
    if os.path.exists(logdir):
        raise BadInput(f"run directory '{logdir}' already exists; derl never overwrites a run "
                       f"(pick another --logdir, or continue it with 'derl resume {logdir}')")
    existing = os.path.dirname(os.path.abspath(logdir))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise BadInput(f"cannot create run directory '{logdir}': '{existing}' is not writable")


def resolve_device(device: str) -> str:
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {device} was asked for, but torch sees no CUDA GPU here; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got '{device}'")
    return device


def seed_everything(seed: int):
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_torch(venv, threads: int | None = None):
    """`threads`: torch's intra-op threads. By default one per core, but one alone when env worker
    processes share the cores: oversubscribed OpenMP threads slow small updates down by orders of magnitude."""
    import torch
    if threads:
        torch.set_num_threads(threads)
    elif len(getattr(venv.unwrapped, "processes", ())) > 1:
        torch.set_num_threads(1)


def hyperparameter_table(hparams: dict) -> str:
    rows = "\n".join(f"|{k}|{v}|" for k, v in hparams.items())
    return "|hyperparameter|value|\n|-|-|\n" + rows


def read_run(run_dir: str) -> dict:
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isdir(run_dir):
        raise BadInput(f"run directory '{run_dir}' does not exist")
    if not os.path.isfile(path):
        raise BadInput(f"'{run_dir}' is not a derl run directory (no {CONFIG})")
    try:
        with open(path) as f:
            record = json.load(f)
        record["algorithm"], record["env_id"], record["hyperparameters"]
    except (ValueError, KeyError, TypeError):
        raise BadInput(f"'{path}' is not a derl run configuration") from None
    return record


def check_new_file(path: str, flag: str, suffixes: tuple):
    """A file derl is about to write: right suffix, not already there, in a writable directory."""
    if not path.lower().endswith(suffixes):
        raise BadInput(f"{flag} must end in {' or '.join(suffixes)}, got '{path}'")
    if os.path.exists(path):
        raise BadInput(f"'{path}' already exists; derl does not overwrite it")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise BadInput(f"cannot write '{path}': '{parent}' is not a writable directory")


def load_run_checkpoint(run_dir: str, record: dict, checkpoint: str | None, purpose: str) -> tuple:
    """(path, state) of `checkpoint`, or of the run's newest; it must come from the run's algorithm."""
    if checkpoint is None:
        found = ckpt.list_checkpoints(run_dir)
        if not found:
            raise BadInput(f"'{run_dir}' has no checkpoint to {purpose}")
        checkpoint = found[-1]
    state = ckpt.load(checkpoint)
    if state.get("algorithm") != record["algorithm"]:
        raise BadInput(f"checkpoint '{checkpoint}' is from algorithm '{state.get('algorithm')}', "
                       f"but '{run_dir}' is a {record['algorithm']} run")
    return checkpoint, state


# ---------------------------------------------------------------------------------------------- building
def build(registry, record: dict, device: str, training=True, num_envs=None, render_mode=None):
    """(alg, venv, summary-less) from a run record: the Factory's path, shared by train, resume and eval."""
    from . import env as envs
    spec = registry.algorithm(record["algorithm"])
    hparams = dict(record["hyperparameters"])
    venv = envs.make(record["env_id"], num_envs or hparams["num_envs"], seed=record["seed"],
                     registry=registry, training=training, render_mode=render_mode,
                     normalize=hparams.get("normalize_env", True))
    try:
        envs.check_action_space(spec, venv)
        if num_envs is not None:
            hparams["num_envs"] = num_envs
        return spec, venv, hparams
    except BaseException:
        venv.close()
        raise


class RunControl:
    """Checkpoints at the runner's clean points, and turns SIGINT/SIGTERM into a checkpoint and a stop."""

    def __init__(self, run_dir, alg, venv, summary, every, keep, save_replay, exact):
        self.run_dir, self.alg, self.venv, self.summary = run_dir, alg, venv, summary
        self.every, self.keep, self.save_replay, self.exact = every, keep, save_replay, exact
        self.runner = alg.runner.unwrapped
        self.last_saved = self.runner.step_count
        self.boundary_step = self.runner.step_count
        self.signum = None
        self.previous_handlers = {}

    def payload(self) -> dict:
        state = {name: obj.state_dict() for name, obj in self.alg.checkpointables.items()
                 if name not in self.alg.OPTIONAL or self.save_replay}
        payload = {"algorithm": self.alg_name, "alg": state, "summary": self.summary.state_dict(),
                   "rng": ckpt.rng_state()}
        if self.exact and self.runner.obs is not None:
            payload["env"] = ckpt.env_state(self.venv)
            payload["runner_obs"] = self.runner.obs
        return payload

    def save(self) -> str:
        from .alg import check_finite
        import torch
        modules = {k: v for k, v in self.alg.checkpointables.items() if isinstance(v, torch.nn.Module)}
        check_finite(modules, self.runner.step_count)
        self.last_saved = self.runner.step_count
        return ckpt.save(self.run_dir, self.payload(), self.runner.step_count, self.keep)

    def hook(self, runner):
        self.boundary_step = runner.step_count
        if self.signum is not None:
            self.save()
            raise Interrupted(self.signum)
        if runner.step_count - self.last_saved >= self.every:
            self.save()

    def _on_signal(self, signum, frame):
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt   # a second Ctrl-C: stop now
        self.signum = signum

    def __enter__(self):
        self.runner.hooks.insert(0, self.hook)
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:   # not the main thread (e.g. some test runners): no signal handling
                pass
        return self

    def __exit__(self, *exc):
        self.runner.hooks.remove(self.hook)
        for sig, handler in self.previous_handlers.items():
            signal.signal(sig, handler)
        return False


def _run(registry, run_dir, record, spec, venv, hparams, device, progress, echo, state=None):
    """Builds the Alg, restores `state` (a loaded checkpoint) if given, learns, checkpoints."""
    from .alg import NonFiniteError
    from .runners import EnvError
    from .summary import Summary
    total = hparams["total_steps"]
    start = state["step"] if state else 0
    opts = record.get("run", {})
    summary = Summary(run_dir, total, progress=progress, start_step=start)
    try:
        factory_cls = load_object(spec.factory)
        alg = factory_cls(**hparams).make(venv, device=device, seed=record["seed"], summary=summary)
        family = registry.family_for(record["env_id"])
        exact = family.exact_resume and hasattr(venv.unwrapped, "envs")
        if state is not None:
            alg.load_state_dict(state["alg"])
            summary.load_state_dict(state["summary"])
            ckpt.set_rng_state(state["rng"])
            runner = alg.runner.unwrapped
            if exact and "env" in state:
                ckpt.set_env_state(venv, state["env"])
                runner.obs = state["runner_obs"]
            else:   # envs cannot be restored exactly: start fresh episodes, seeded from where the run is
                runner.seed = record["seed"] + start
        else:
            summary.text("hyperparameters", hyperparameter_table(hparams))
        every = opts.get("checkpoint_every") or max(1, min(total // 10, 250_000))
        control = RunControl(run_dir, alg, venv, summary, every, opts.get("keep_checkpoints", 3),
                             opts.get("save_replay", False), exact)
        control.alg_name = record["algorithm"]
        with control:
            try:
                alg.learn(total)
            except NonFiniteError as exc:
                raise TrainingFailed(f"training stopped: {exc}; {_last_good(run_dir)}") from None
            except EnvError as exc:
                control.runner.step_count = control.boundary_step
                control.exact = False
                path = control.save()
                raise TrainingFailed(f"training stopped: {exc}; saved {path}; continue with: "
                                     f"derl resume {run_dir}") from None
            except Interrupted:
                summary.close(flush=False)
                echo(f"interrupted at step {control.runner.step_count}; checkpoint saved; continue with: "
                     f"derl resume {run_dir}")
                raise
            control.save()
    finally:
        summary.close()
        close_env(venv)
    ret = summary.mean_return
    how = f"mean return of last 100 episodes: {ret:.1f}" if ret == ret else "no episode finished yet"
    echo(f"run saved in {run_dir} ({how}); view it with: tensorboard --logdir {run_dir}")
    return run_dir


def close_env(venv):
    """Closes a vector env; subprocess workers are terminated rather than waited for (one may be dead)."""
    base = getattr(venv, "unwrapped", venv)
    try:
        if hasattr(base, "processes"):
            from gymnasium.vector.async_vector_env import AsyncState
            base._state = AsyncState.DEFAULT   # a step left pending by a dead worker is not waited for
            venv.close(terminate=True)
        else:
            venv.close()
    except Exception:
        pass


def _last_good(run_dir: str) -> str:
    found = ckpt.list_checkpoints(run_dir)
    return f"the last good checkpoint is {found[-1]}" if found else "no checkpoint was written before it"


# ---------------------------------------------------------------------------------------------- commands
def train(registry, alg_name: str, env_id: str, overrides: dict, logdir: str | None = None, seed: int = 1,
          device: str = "auto", progress: bool = True, echo=print, checkpoint_every: int | None = None,
          keep_checkpoints: int = 3, save_replay: bool = False, threads: int | None = None) -> str:
    spec = registry.algorithm(alg_name)
    family = registry.family_for(env_id)
    hparams = cfg.resolve(spec, registry.defaults_chain(family.name), overrides)
    logdir = logdir or default_logdir(env_id, alg_name, seed)
    check_logdir(logdir)
    device = resolve_device(device)
    record = {"algorithm": alg_name, "plugin": spec.distribution, "plugin_version": spec.version,
              "env_id": env_id, "family": family.name, "seed": seed, "device": device,
              "run": {"checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
                      "save_replay": save_replay, "threads": threads},
              "hyperparameters": hparams}
    spec, venv, hparams = build(registry, record, device)
    setup_torch(venv, threads)
    seed_everything(seed)
    try:
        os.makedirs(logdir)
    except OSError as exc:
        venv.close()
        raise BadInput(f"cannot create run directory '{logdir}': {exc.strerror}") from None
    try:
        with open(os.path.join(logdir, CONFIG), "w") as f:
            json.dump(record, f, indent=2)
        return _run(registry, logdir, record, spec, venv, hparams, device, progress, echo)
    except BadInput:
        shutil.rmtree(logdir, ignore_errors=True)   # set-up failed: leave nothing behind
        raise


def resume(registry, run_dir: str, total_steps: int | None = None, checkpoint: str | None = None,
           progress: bool = True, echo=print) -> str:
    record = read_run(run_dir)
    registry.algorithm(record["algorithm"])
    checkpoint, state = load_run_checkpoint(run_dir, record, checkpoint, "resume from")
    if total_steps is not None:
        if total_steps <= state["step"]:
            raise BadInput(f"--total-steps {total_steps} is not beyond the checkpoint's step {state['step']}")
        record["hyperparameters"]["total_steps"] = total_steps
    if state["step"] >= record["hyperparameters"]["total_steps"]:
        raise BadInput(f"'{run_dir}' already reached its {record['hyperparameters']['total_steps']} steps; "
                       f"pass --total-steps N to train further")
    device = resolve_device(record.get("device", "auto"))
    spec, venv, hparams = build(registry, record, device)
    setup_torch(venv, record.get("run", {}).get("threads"))
    _truncate_metrics(run_dir, state["step"])
    with open(os.path.join(run_dir, CONFIG), "w") as f:
        json.dump(record, f, indent=2)
    return _run(registry, run_dir, record, spec, venv, hparams, device, progress, echo, state=state)


def _truncate_metrics(run_dir: str, step: int):
    """Drops metric rows written after the checkpoint (they are written again), atomically."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return
    with open(path) as f:
        rows = [line for line in f if line.strip() and json.loads(line)["step"] <= step]
    with open(path + ".tmp", "w") as f:
        f.writelines(rows)
    os.replace(path + ".tmp", path)
