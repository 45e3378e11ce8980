"""Building a run from its record, shared by train, resume and eval: the device, torch's threads and seeds,
the env (through its family), the memory check, the plugin's Factory, and a checkpoint loaded and restored
into what was built. Nothing here writes to a run directory."""
from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import numpy as np
import torch

from .. import env as envs
from ..errors import BadInput, first_line
from ..machine import machine_cores
from ..rl.spaces import action_problem, kind, observation_problem
from ..memory import check_memory
from ..spec import load_object
from . import checkpoint as ckpt
from . import rundir
from .distributed import RemoteEnvs
from .summary import Summary


def resolve_device(device: str) -> str:
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise BadInput(f"--device must be auto, cpu or cuda, got '{device}'")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadInput(f"--device {device} was asked for, but torch sees no CUDA GPU here; use --device cpu")
    return device


def seed_everything(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


MARK = b"derl-train"   # the process name (/proc/PID/comm) of a training, however it was started (CLI or API)


def mark_training():
    """Names this process derl-train, so that other trainings on the machine can count it."""
    try:
        with open("/proc/self/comm", "wb") as f:
            f.write(MARK)
    except OSError:
        pass


def trainings_running() -> int:
    """derl trainings on this machine, this one included (processes named derl-train)."""
    me, count = os.getpid(), 1
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 1
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(f"/proc/{pid}/comm", "rb") as f:
                if f.read().strip() == MARK:
                    count += 1
        except OSError:
            continue
    return count


def default_threads() -> int:
    """torch's intra-op threads unless --threads says: the cores this process may use, shared out among the
    derl trainings running on the machine. (With env worker processes, the EnvRunner drops to one thread while
    they step, and the updates get these.)
    Measured on 2 cores: two PPO CartPole runs side by side took 47.5 s with torch's default (2 threads each),
    8.8 s with one thread each; a SAC-sized update alone is 1.5x faster with 2 threads than with 1, but 3.5x
    slower than with 1 when two runs share the cores."""
    return max(1, machine_cores() // trainings_running())


RESHARE_SECONDS = 1.0   # a scan of /proc takes ~1 ms; re-sharing every 30 s let two runs thrash for 30 s


def setup_torch(threads: int | None = None):
    """Sets torch's threads; returns a clean-point hook that re-shares the cores (every RESHARE_SECONDS at the
    most) as trainings start and end on the machine (None when --threads fixed them)."""
    mark_training()
    torch.set_num_threads(threads or default_threads())
    if threads:
        return None
    state = {"at": time.monotonic()}

    def reshare(runner):
        if time.monotonic() - state["at"] >= RESHARE_SECONDS:
            state["at"] = time.monotonic()
            wanted = default_threads()
            if wanted != torch.get_num_threads():
                torch.set_num_threads(wanted)
    return reshare


def load_run_checkpoint(run_dir: str, record: dict, checkpoint: str | None, purpose: str,
                        notice=None) -> tuple:
    """(path, state) of `checkpoint`, or of the run's newest intact one (damaged newer ones are reported to
    `notice`); (None, None) when the run has none. It must come from the run's algorithm and configuration."""
    if checkpoint is None:
        checkpoint, state = ckpt.newest_intact(run_dir, notice)
        if checkpoint is None:
            return None, None
    else:
        if checkpoint == "best":
            checkpoint = ckpt.best_path(run_dir)
            if not os.path.lexists(checkpoint):
                raise BadInput(f"'{run_dir}' has no {ckpt.BEST}: a run keeps one when it evaluates "
                               f"(--eval-every STEPS)")
        state = ckpt.load(checkpoint)   # a link is refused there (O_NOFOLLOW)
    if state["algorithm"] != record.algorithm:
        raise BadInput(f"checkpoint '{checkpoint}' is from algorithm '{state['algorithm']}', "
                       f"but '{run_dir}' is a {record.algorithm} run")
    changed = ckpt.differences(state.get("config", {}), ckpt.fingerprint(record))
    if changed:
        raise BadInput(f"checkpoint '{checkpoint}' was written with another configuration than "
                       f"{os.path.join(run_dir, rundir.CONFIG)} now holds ({'; '.join(changed)[:200]}); "
                       f"derl does not {purpose} it")
    return checkpoint, state

def check_spaces(spec, venv, registry=None):
    """BadInput naming the space and the algorithms that handle it, when `spec`'s algorithm cannot."""
    obs, act = venv.single_observation_space, venv.single_action_space
    problem = observation_problem(obs, spec.observation_spaces)
    which = (lambda s: observation_problem(obs, s.observation_spaces) is None)
    if problem is None:
        problem = action_problem(act, spec.action_spaces)
        which = (lambda s: action_problem(act, s.action_spaces) is None)
    if problem is None:
        return
    others = []
    if registry is not None:
        others = sorted(s.name for s in registry.algorithms.values() if s.name != spec.name and which(s))
    can = f"algorithms that can: {', '.join(others)}" if others else "no installed algorithm can"
    hint = ""
    if kind(obs) == "Dict" and "(key '" in problem:   # one key derl cannot encode: say how to drop it
        usable = [key for key, sub in obs.spaces.items() if observation_problem(sub, spec.observation_spaces) is None]
        hint = (f"; to drop the key, keep the others with --obs-keys {','.join(map(str, usable))}" if usable else "")
    raise BadInput(f"{spec.name} cannot handle {problem} ({venv.env_id} has observations {obs} and actions "
                   f"{act}){hint}; {can}")



def build(registry, record: dict, device: str, training=True, num_envs=None, render_mode=None):
    """(spec, venv, hparams) from a run record: the Factory's inputs, shared by train, resume and eval."""
    spec = registry.algorithm(record.algorithm)
    hparams = dict(record.hyperparameters)
    run = record.run
    if run.get("workers") and training and num_envs is None:   # experience from Ray actors
        registry.family_for(record.env_id)
        venv = RemoteEnvs(record.env_id, run["workers"], hparams["num_envs"] // run["workers"],
                          record.seed, address=run.get("ray_address"), **record.env_options())
        venv.env_id = record.env_id
    else:
        venv = envs.make(record.env_id, num_envs or hparams["num_envs"], seed=record.seed,
                         registry=registry, training=training, render_mode=render_mode, **record.env_options())
    try:
        check_spaces(spec, venv, registry)
        if num_envs is not None:
            hparams["num_envs"] = num_envs
        return spec, venv, hparams
    except BaseException:
        close_env(venv)
        raise


def make_alg(spec, hparams: dict, venv, device: str, seed: int, summary=None):
    """The plugin's Factory builds the Alg; whatever goes wrong there is one line naming the plugin."""
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
                           f"({first_line(exc)})") from None
        raise BadInput(f"{culprit} failed to build: RuntimeError: {first_line(exc, 200)}") from None
    except Exception as exc:
        raise BadInput(f"{culprit} failed to build: {type(exc).__name__}: {first_line(exc, 200)}") from None


def compile_networks(alg):
    """--compile: every torch module the Alg checkpoints is compiled in place (nn.Module.compile: the same
    parameters and state-dict keys, so checkpoints, load and export are unchanged)."""
    for obj in alg.checkpointables.values():
        if isinstance(obj, torch.nn.Module):
            obj.compile()


@dataclass
class BuiltRun:
    """A run built from its record, ready to learn; nothing is written yet."""
    spec: object
    venv: object
    hparams: dict
    alg: object
    summary: Summary


def prepare(registry, record: dict, device: str, progress: bool, start: int = 0, threads=None,
            fresh=True) -> BuiltRun:
    """The env, torch's threads and seeds, the Summary and the plugin's Alg, built from the record."""
    spec, venv, hparams = build(registry, record, device)
    try:
        reshare = setup_torch(threads)
        if fresh:
            seed_everything(record.seed)
        summary = Summary(None, hparams["total_steps"], progress=progress, start_step=start)
        alg = make_alg(spec, hparams, venv, device, record.seed, summary)
        if record.run.get("compile"):
            compile_networks(alg)
        if reshare is not None:
            alg.runner.hooks.append(reshare)
        return BuiltRun(spec, venv, hparams, alg, summary)
    except BaseException:
        close_env(venv)
        raise


def restore(alg, summary, venv, record: dict, state: dict, path: str, exact: bool):
    """Loads a checkpoint into a freshly built run; a state that does not fit is BadInput naming the file."""
    ckpt.check_fits(alg, state["alg"], path)   # shapes, dtypes, finiteness, optimizer state: before loading
    if exact and "env" in state:   # the observations the runner resumes from: shaped as this vector env's
        try:
            ckpt.fits(venv.observation_space.sample(), state.get("runner_obs"), "runner_obs")
        except ckpt.Misfit as exc:
            raise BadInput(f"checkpoint '{path}' does not fit this run: {exc}") from None
    try:
        alg.load_state_dict(state["alg"])
        summary.load_state_dict(state["summary"])
        ckpt.set_rng_state(state["rng"])
        runner = alg.runner
        if exact and "env" in state:
            ckpt.set_env_state(venv, state["env"])
            runner.obs = state["runner_obs"]
        else:   # envs cannot be restored exactly: start fresh episodes, seeded from where the run is
            runner.seed = record.seed + state["step"]
    except Exception as exc:
        raise BadInput(f"checkpoint '{path}' does not fit this run ({type(exc).__name__}: "
                       f"{first_line(exc)})") from None


def close_env(venv, logdir: str | None = None):
    """Closes a vector env; subprocess workers are terminated rather than waited for (one may be dead);
    Ray workers are killed (and Ray's logs copied into `logdir`)."""
    base = getattr(venv, "unwrapped", venv)
    try:
        if getattr(base, "remote", False):
            base.close(logdir=logdir)
        elif hasattr(base, "processes"):
            from gymnasium.vector.async_vector_env import AsyncState
            base._state = AsyncState.DEFAULT   # a step left pending by a dead worker is not waited for
            venv.close(terminate=True)
        else:
            venv.close()
    except Exception:
        pass
