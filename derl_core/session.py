"""Train and resume: the path of one run.

Everything is checked and built before the run directory is touched: hyperparameters (the same resolver for
the command line and for a config.json read back), the env, the memory the algorithm will need, the Alg
itself, and on resume the checkpoint and whether it fits. Only then does derl create the directory (or write
into it), save a step-0 checkpoint, and learn. Run-directory I/O lives in rundir.py, run control (checkpoints
at clean points, signals) in control.py."""
from __future__ import annotations

import os
import random
import sys
import time

from . import checkpoint as ckpt
from . import config as cfg
from . import rundir
from .control import Interrupted, RunControl, TrainingFailed, differences, fingerprint, replay_nbytes
from .errors import BadInput
from .spec import load_object

__all__ = ["train", "resume", "build", "make_alg", "close_env", "load_run_checkpoint", "Interrupted",
           "TrainingFailed"]


def default_logdir(env_id: str, alg: str, seed: int) -> str:
    return os.path.join("runs", f"{env_id.replace('/', '-')}__{alg}__{seed}__{int(time.time())}")


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got '{device}'")
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {device} was asked for, but torch sees no CUDA GPU here; use --device cpu")
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


def load_run_checkpoint(run_dir: str, record: dict, checkpoint: str | None, purpose: str,
                        notice=None) -> tuple:
    """(path, state) of `checkpoint`, or of the run's newest intact one (damaged newer ones are reported to
    `notice`); (None, None) when the run has none. It must come from the run's algorithm and configuration."""
    if checkpoint is None:
        checkpoint, state = ckpt.newest_intact(run_dir, notice)
        if checkpoint is None:
            return None, None
    else:
        if os.path.islink(checkpoint):
            raise BadInput(f"checkpoint '{checkpoint}' is a symbolic link; derl does not follow links")
        state = ckpt.load(checkpoint)
    if state["algorithm"] != record["algorithm"]:
        raise BadInput(f"checkpoint '{checkpoint}' is from algorithm '{state['algorithm']}', "
                       f"but '{run_dir}' is a {record['algorithm']} run")
    changed = differences(state.get("config", {}), fingerprint(record))
    if changed:
        raise BadInput(f"checkpoint '{checkpoint}' was written with another configuration than "
                       f"{os.path.join(run_dir, rundir.CONFIG)} now holds ({'; '.join(changed)[:200]}); "
                       f"derl does not {purpose} it")
    return checkpoint, state


# ---------------------------------------------------------------------------------------------- building
def build(registry, record: dict, device: str, training=True, num_envs=None, render_mode=None):
    """(spec, venv, hparams) from a run record: the Factory's inputs, shared by train, resume and eval."""
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
        close_env(venv)
        raise


def make_alg(spec, hparams: dict, venv, device: str, seed: int, summary=None):
    """The plugin's Factory builds the Alg; whatever goes wrong there is one line naming the plugin."""
    from .memory import check_memory
    check_memory(spec, hparams, venv)
    culprit = f"the {spec.name} plugin ({spec.distribution or 'not installed'})"
    try:
        factory_cls = load_object(spec.factory)
    except Exception as exc:
        raise BadInput(f"{culprit} names a factory '{spec.factory}' that cannot be loaded: "
                       f"{type(exc).__name__}: {exc}") from None
    try:
        return factory_cls(**hparams).make(venv, device=device, seed=seed, summary=summary)
    except MemoryError as exc:
        raise BadInput(f"{spec.name} could not allocate its memory with these hyperparameters ({exc})") from None
    except RuntimeError as exc:
        if "allocate" in str(exc):
            raise BadInput(f"{spec.name} could not allocate its memory with these hyperparameters "
                           f"({str(exc).splitlines()[0][:160]})") from None
        raise BadInput(f"{culprit} failed to build: RuntimeError: {str(exc).splitlines()[0][:200]}") from None
    except Exception as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise BadInput(f"{culprit} failed to build: {type(exc).__name__}: {first}") from None


def prepare(registry, record: dict, device: str, progress: bool, start: int = 0, threads=None, fresh=True):
    """(spec, venv, hparams, alg, summary) built from the record; nothing is written."""
    from .summary import Summary
    spec, venv, hparams = build(registry, record, device)
    try:
        setup_torch(venv, threads)
        if fresh:
            seed_everything(record["seed"])
        summary = Summary(None, hparams["total_steps"], progress=progress, start_step=start)
        alg = make_alg(spec, hparams, venv, device, record["seed"], summary)
        return spec, venv, hparams, alg, summary
    except BaseException:
        close_env(venv)
        raise


def restore(alg, summary, venv, record: dict, state: dict, path: str, exact: bool):
    """Loads a checkpoint into a freshly built run; a state that does not fit is BadInput naming the file."""
    try:
        alg.load_state_dict(state["alg"])
        summary.load_state_dict(state["summary"])
        ckpt.set_rng_state(state["rng"])
        runner = alg.runner.unwrapped
        if exact and "env" in state:
            ckpt.set_env_state(venv, state["env"])
            runner.obs = state["runner_obs"]
        else:   # envs cannot be restored exactly: start fresh episodes, seeded from where the run is
            runner.seed = record["seed"] + state["step"]
    except Exception as exc:
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise BadInput(f"checkpoint '{path}' does not fit this run ({type(exc).__name__}: {first})") from None


def _learn(registry, run_dir, record, venv, hparams, alg, summary, echo, state=None):
    """Learns with checkpoints at clean points; a fresh run first saves a step-0 checkpoint."""
    from .alg import NonFiniteError
    from .runners import EnvError
    total = hparams["total_steps"]
    opts = record.get("run", {})
    family = registry.family_for(record["env_id"])
    exact = family.exact_resume and hasattr(venv.unwrapped, "envs")
    try:
        summary.open(run_dir)
        if state is None:
            summary.text("hyperparameters", hyperparameter_table(hparams))
        every = opts.get("checkpoint_every") or max(1, min(total // 10, 250_000))
        control = RunControl(run_dir, alg, venv, summary, record, every, opts.get("keep_checkpoints", 3),
                             opts.get("save_replay"), exact)
        if state is None:
            control.save()   # step 0: a run killed before its first periodic checkpoint can be resumed
        with control:
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


def _stderr(message: str):
    print(message, file=sys.stderr)


# ---------------------------------------------------------------------------------------------- commands
def train(registry, alg_name: str, env_id: str, overrides: dict, logdir: str | None = None, seed: int = 1,
          device: str = "auto", progress: bool = True, echo=print, checkpoint_every: int | None = None,
          keep_checkpoints: int = 3, save_replay: bool | None = None, threads: int | None = None) -> str:
    rundir.check_seed(seed)
    rundir.check_env_id(env_id)
    spec = registry.algorithm(alg_name)
    family = registry.family_for(env_id)
    hparams = cfg.resolve(spec, registry.defaults_chain(family.name), overrides)
    logdir = default_logdir(env_id, alg_name, seed) if logdir is None else logdir
    rundir.check_logdir(logdir)
    device = resolve_device(device)
    record = {"algorithm": alg_name, "plugin": spec.distribution, "plugin_version": spec.version,
              "env_id": env_id, "family": family.name, "seed": seed, "device": device,
              "run": {"checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
                      "save_replay": save_replay, "threads": threads},
              "hyperparameters": hparams}
    spec, venv, hparams, alg, summary = prepare(registry, record, device, progress, threads=threads)
    try:
        rundir.create_run(logdir, record)
    except BaseException:
        close_env(venv)
        raise
    return _learn(registry, logdir, record, venv, hparams, alg, summary, echo)


def resume(registry, run_dir: str, total_steps: int | None = None, checkpoint: str | None = None,
           progress: bool = True, echo=print, notice=_stderr) -> str:
    record = rundir.read_run(run_dir)
    spec, family, hparams = rundir.validate_record(registry, record, os.path.join(run_dir, rundir.CONFIG))
    record["hyperparameters"] = hparams
    path, state = load_run_checkpoint(run_dir, record, checkpoint, "resume from", notice)
    start = state["step"] if state else 0
    old_total = hparams["total_steps"]
    if total_steps is not None:
        if total_steps <= start:
            raise BadInput(f"--total-steps {total_steps} is not beyond the checkpoint's step {start}")
        hparams["total_steps"] = total_steps
        cfg.check_together(spec, hparams)
    if start >= hparams["total_steps"]:
        raise BadInput(f"'{run_dir}' already reached its {hparams['total_steps']} steps; "
                       f"pass --total-steps N to train further")
    device = resolve_device(record.get("device", "auto"))
    opts = record["run"]
    spec, venv, hparams, alg, summary = prepare(registry, record, device, progress, start, opts.get("threads"),
                                                fresh=state is None)
    try:
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
        if hparams["total_steps"] != old_total:
            rundir.write_config(run_dir, record)
        rundir.truncate_metrics(run_dir, start)
    except BaseException:
        close_env(venv)
        raise
    return _learn(registry, run_dir, record, venv, hparams, alg, summary, echo, state=state)
