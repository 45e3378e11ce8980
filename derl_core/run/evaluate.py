"""`derl eval`: play a run's policy for N episodes (raw returns; whole games on Atari) and record a video."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile

import numpy as np
import torch

from .. import env as envs
from ..errors import BadInput, first_line
from ..rl.rollout import env_actions
from ..rl.schedules import Constant
from . import checkpoint as ckpt
from . import rundir
from .fence import Dir
from .build import build, close_env, load_run_checkpoint, make_alg
from .record import RunRecord, check_seed

MAX_VIDEO_FRAMES = 4500
VIDEOS = "videos"   # --capture-video's folder in the run directory


def write_video(path: str, frames: list, fps: int = 30):
    """Writes into `path`, a file reserved (created empty) before the evaluation ran."""
    import imageio.v2 as imageio
    if path.lower().endswith(".gif"):
        imageio.mimsave(path, frames, format="GIF", duration=1000 / fps, loop=0)
    else:
        with imageio.get_writer(path, format="FFMPEG", fps=fps, macro_block_size=1) as writer:
            for frame in frames:
                writer.append_data(frame)


def play(venv, act, episodes: int, seed: int, on_step=None):
    """Plays `episodes` whole episodes on a one-env vector env with `act(obs) -> policy actions` (made env
    actions by `env_actions`); yields (raw return, length) as each ends. `on_step()` runs after the reset and after each step."""
    obs, _ = venv.reset(seed=seed)
    done = 0
    if on_step is not None:
        on_step()
    while done < episodes:
        obs, _, terminated, truncated, infos = venv.step(env_actions(venv.single_action_space, act(obs)))
        if on_step is not None:
            on_step()
        if terminated[0] or truncated[0]:
            info = infos.get("final_info", {})
            if "episode" in info and info["_episode"][0]:
                done += 1
                yield float(info["episode"]["r"][0]), int(info["episode"]["l"][0])


def sync_statistics(train_venv, venv):
    """The training env's normalisation statistics (its stateful wrappers) copied into `venv`."""
    here = envs.state_objects(venv)
    for name, obj in envs.state_objects(train_venv).items():
        if name in here:
            here[name].load_state_dict(obj.state_dict())


class PeriodicEval:
    """`--eval-every STEPS --eval-episodes K`: at the first clean point past each multiple of STEPS, plays K
    deterministic episodes on a separate env instance (evaluation wrappers, the training env's normalisation
    statistics) and logs their mean raw return as charts/eval_return. It uses no random number the training
    uses, so runs with and without it train identically, and a resumed run evaluates where the uninterrupted
    one did."""

    def __init__(self, registry, record: dict, alg, train_venv, summary, every: int, episodes: int):
        self.alg, self.train_venv, self.summary = alg, train_venv, summary
        self.every, self.episodes, self.seed = every, episodes, record.seed + 20_000
        self.venv = envs.make(record.env_id, 1, seed=self.seed, registry=registry, training=False,
                              **record.env_options())
        self.last = alg.runner.step_count
        self.best, self.latest = -np.inf, None   # the best and the latest mean eval return
        self.on_best = None                      # on_best(mean): keeps best.pt (set by the session)

    def hook(self, runner):
        step = runner.step_count
        if step // self.every > self.last // self.every:
            self.last = step
            self.latest = mean = float(np.mean(self.play(step // self.every)))
            self.summary.scalar("charts/eval_return", mean, step)
            if mean > self.best:
                self.best = mean
                if self.on_best is not None:
                    self.on_best(mean)

    def play(self, round_: int) -> list:
        sync_statistics(self.train_venv, self.venv)
        act = (lambda obs: self.alg.policy.act(obs, deterministic=True).actions)
        return [ret for ret, _ in play(self.venv, act, self.episodes, self.seed + 1000 * round_)]

    def close(self):
        close_env(self.venv)


def cubic_schedule(episodes: int) -> bool:
    """gymnasium's capped cubic schedule: episodes 1, 8, 27, ..., 729, then every 1000."""
    if episodes < 1000:
        return round(episodes ** (1 / 3)) ** 3 == episodes
    return episodes % 1000 == 0


class VideoCapture:
    """--capture-video [--video-every N]: once N more training episodes have ended (default: the cubic
    schedule), one episode of the current policy acting as in training (sampled actions) is played on a
    separate rendering env built like the training env (whole games; the training normalisation statistics)
    and written to RUN/videos/, TensorBoard and W&B. A separate env because the training envs do not render
    (EnvPool cannot; a rendering env 0 would slow every step); it uses no random number the training uses."""

    def __init__(self, registry, record, alg, train_venv, summary, run_dir: str | None = None):
        self.alg, self.train_venv, self.summary = alg, train_venv, summary
        self.every, self.run_dir, self.seed, self.count = record.run.get("video_every"), run_dir, record.seed + 30_000, 0
        self.venv = envs.make(record.env_id, 1, seed=self.seed, registry=registry, training=False,
                              render_mode="rgb_array", **record.env_options())
        try:
            self.venv.reset(seed=self.seed)
            frame = self.venv.call("render")[0]
        except Exception as exc:
            self.close()
            raise BadInput(f"--capture-video: cannot render {record.env_id} on this machine: "
                           f"{type(exc).__name__}: {first_line(exc)}") from None
        if frame is None:
            self.close()
            raise BadInput(f"--capture-video: {record.env_id} renders no rgb_array frames")
        self.seen = 0   # training episodes already considered (set from the summary when the run starts)

    def due(self, episodes: int) -> bool:
        before, self.seen = self.seen, episodes
        if self.every:
            return episodes // self.every > before // self.every
        return any(cubic_schedule(e) for e in range(before + 1, episodes + 1))

    def hook(self, runner):
        if self.due(self.summary.episodes):
            self.capture(runner.step_count)

    def capture(self, step: int):
        sync_statistics(self.train_venv, self.venv)
        frames = []

        def record_frame():
            if len(frames) < MAX_VIDEO_FRAMES:
                frames.append(self.venv.call("render")[0])

        policy = self.alg.policy
        act = (lambda obs: policy.act(obs, deterministic=False).actions)
        self.count += 1
        kept = policy.state_dict() if hasattr(policy, "state_dict") else None   # the policy's own RNG
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):   # torch's RNG, as the training left it
            for _ in play(self.venv, act, 1, self.seed + 1000 * self.count, on_step=record_frame):
                pass
        if kept is not None:
            policy.load_state_dict(kept)
        frames = frames[:-1] or frames   # the last frame is the next episode's first
        name = f"episode-{self.summary.episodes}-step-{step}.mp4"
        tmp = tempfile.mkdtemp(prefix="derl-video-")
        try:
            path = os.path.join(tmp, name)
            write_video(path, frames)
            with Dir(self.run_dir) as d, d.sub(VIDEOS, create=True) as videos, open(path, "rb") as f:
                videos.write(name, f.read())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.summary.video("videos/training", os.path.join(self.run_dir, VIDEOS, name), frames, step)

    def close(self):
        close_env(self.venv)


def periodic_eval(registry, record: RunRecord, alg, venv, summary) -> PeriodicEval | None:
    """A PeriodicEval when the run asks for --eval-every, else None."""
    run = record.run
    if not run.get("eval_every"):
        return None
    return PeriodicEval(registry, record, alg, venv, summary, run["eval_every"], run.get("eval_episodes") or 5)


def other_env(registry, record: RunRecord, env_id: str | None, env_kwargs: str | None) -> RunRecord | None:
    """`derl eval --env-id OTHER [--env-kwargs JSON]`: the record to build the evaluation env from (the run's
    own, with the env replaced), after checking that OTHER has the spaces the run was trained on."""
    if env_id is None and env_kwargs is None:
        return None
    from dataclasses import replace
    from .record import OPTIONS, check_env_id
    if env_id is not None:
        check_env_id(env_id)
    run = dict(record.run)
    if env_kwargs is not None:
        run["env_kwargs"] = OPTIONS["env_kwargs"].parse(env_kwargs)
    other = replace(record, env_id=env_id or record.env_id, run=run, family=registry.family_for(
        env_id or record.env_id).name)
    mine = envs.make(record.env_id, 1, registry=registry, training=False, **record.env_options())
    try:
        theirs = envs.make(other.env_id, 1, registry=registry, training=False, **other.env_options())
    except BaseException:
        close_env(mine)
        raise
    try:
        for what in ("single_observation_space", "single_action_space"):
            a, b = getattr(mine, what), getattr(theirs, what)
            if a != b:
                raise BadInput(f"{other.env_id} has {what.removeprefix('single_').replace('_', ' ')} {b}, the run "
                               f"was trained on {record.env_id} with {a}: derl evaluates a policy only on the "
                               f"spaces it learned")
        if set(envs.state_objects(mine)) != set(envs.state_objects(theirs)):
            raise BadInput(f"{other.env_id} (family {other.family}) does not wrap observations as "
                           f"{record.env_id} (family {record.family}) does: the policy would see other inputs")
    finally:
        close_env(mine)
        close_env(theirs)
    return other


def evaluate(registry, run_dir: str, episodes: int = 10, deterministic: bool = False, video: str | None = None,
             checkpoint: str | None = None, seed: int | None = None, echo=print, env_id: str | None = None,
             env_kwargs: str | None = None) -> list:
    if seed is not None:
        check_seed(seed)
    record = rundir.read_run(run_dir)
    spec, _ = record.validate(registry, os.path.join(run_dir, rundir.CONFIG))
    env_record = other_env(registry, record, env_id, env_kwargs)
    if video is None:
        return _evaluate(registry, run_dir, record, episodes, deterministic, None, checkpoint, seed, echo,
                         env_record)
    with rundir.output(video, "--video", (".mp4", ".gif")) as tmp:
        return _evaluate(registry, run_dir, record, episodes, deterministic, tmp, checkpoint, seed, echo,
                         env_record, shown=video)


def restore_policy(registry, run_dir: str, record: RunRecord, checkpoint: str | None, render_mode=None,
                   purpose: str = "evaluate", env_record: RunRecord | None = None) -> tuple:
    """(alg, one-env evaluation venv, checkpoint path): the run's Alg built on an evaluation env (evaluation
    wrappers, the checkpoint's normalisation statistics), its modules in eval mode and its clock past any
    warm-up or exploration schedule. Shared by `derl eval` and `load()`; the caller closes the venv.
    `env_record`: build the env from it instead (derl eval --env-id OTHER; `other_env` checked the spaces)."""
    checkpoint, state = load_run_checkpoint(run_dir, record, checkpoint, purpose,
                                            lambda m: print(m, file=sys.stderr))
    if checkpoint is None:
        raise BadInput(f"'{run_dir}' has no checkpoint to {purpose}")
    spec, venv, hparams = build(registry, env_record or record, "cpu", training=False, num_envs=1,
                                render_mode=render_mode)
    try:
        alg = make_alg(spec, hparams, venv, "cpu", record.seed)
        ckpt.check_fits(alg, state["alg"], checkpoint)
        try:
            alg.load_state_dict(state["alg"])
        except Exception as exc:
            raise BadInput(f"checkpoint '{checkpoint}' does not fit this run ({type(exc).__name__})") from None
        for obj in alg.checkpointables.values():
            if isinstance(obj, torch.nn.Module):
                obj.eval()
        alg.runner.step_count = 1 << 62   # the run's clock: past any warm-up or exploration schedule
        if hasattr(alg.policy, "EVAL_EPSILON"):
            alg.policy.epsilon = Constant(alg.policy.EVAL_EPSILON)
    except BaseException:
        close_env(venv)
        raise
    return alg, venv, checkpoint


def _evaluate(registry, run_dir, record, episodes, deterministic, video, checkpoint, seed, echo, env_record=None,
              shown=None):
    """`video`: the (temporary) file to write the first episode to; `shown`: the name the user gave."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")   # pygame renders off-screen, without a display
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")        # MuJoCo too (its default needs a display)
    alg, venv, checkpoint = restore_policy(registry, run_dir, record, checkpoint,
                                           "rgb_array" if video else None, env_record=env_record)
    played = (env_record or record).env_id
    try:
        policy = alg.policy
        returns, frames = [], []
        seed = record.seed + 10_000 if seed is None else seed

        def record_frame():   # the first episode only
            if video and not returns and len(frames) < MAX_VIDEO_FRAMES:
                try:
                    frames.append(venv.unwrapped.envs[0].render())
                except Exception as exc:
                    raise BadInput(f"cannot render {played} on this machine for --video "
                                   f"({type(exc).__name__}: {first_line(exc, 120)})") from None
        act = (lambda obs: policy.act(obs, deterministic).actions)
        for ret, length in play(venv, act, episodes, seed, record_frame):
            returns.append(ret)
            echo(f"episode {len(returns)}: return {ret:.1f}, length {length}")
    finally:
        close_env(venv)
    trained = f" (trained on {record.env_id})" if played != record.env_id else ""
    echo(f"{record.algorithm} on {played}{trained} ({os.path.basename(checkpoint)}): "
         f"mean return {np.mean(returns):.1f} ± {np.std(returns):.1f} over {episodes} episodes")
    if video:
        write_video(video, frames)
        echo(f"video of episode 1 written to {shown or video} ({len(frames)} frames)")
    return returns
