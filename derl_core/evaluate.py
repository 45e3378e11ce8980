"""`derl eval`: play a run's policy for N episodes (raw returns; whole games on Atari) and record a video."""
from __future__ import annotations

import os

import numpy as np

from .session import build, check_new_file, close_env, load_run_checkpoint, read_run
from .spec import load_object

MAX_VIDEO_FRAMES = 4500


def write_video(path: str, frames: list, fps: int = 30):
    """Writes through a temporary name, then renames: a failed write leaves nothing half-made."""
    import imageio.v2 as imageio
    root, ext = os.path.splitext(path)
    tmp = f"{root}.partial{ext}"
    try:
        if ext.lower() == ".gif":
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)
        else:
            with imageio.get_writer(tmp, fps=fps, macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(frame)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def evaluate(registry, run_dir: str, episodes: int = 10, deterministic: bool = False, video: str | None = None,
             checkpoint: str | None = None, seed: int | None = None, echo=print) -> list:
    record = read_run(run_dir)
    registry.algorithm(record["algorithm"])
    if video is not None:
        check_new_file(video, "--video", (".mp4", ".gif"))
    checkpoint, state = load_run_checkpoint(run_dir, record, checkpoint, "evaluate")
    import torch
    from .schedules import Constant
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")   # pygame renders off-screen, without a display
    spec, venv, hparams = build(registry, record, "cpu", training=False, num_envs=1,
                                render_mode="rgb_array" if video else None)
    try:
        alg = load_object(spec.factory)(**hparams).make(venv, device="cpu", seed=record["seed"])
        alg.load_state_dict(state["alg"])
        for obj in alg.checkpointables.values():
            if isinstance(obj, torch.nn.Module):
                obj.eval()
        policy = alg.runner.policy
        if hasattr(policy, "clock"):
            policy.clock = lambda: 1 << 62          # past any warm-up or exploration schedule
        if hasattr(policy, "EVAL_EPSILON"):
            policy.epsilon = Constant(policy.EVAL_EPSILON)
        returns, frames = [], []
        seed = record["seed"] + 10_000 if seed is None else seed
        obs, _ = venv.reset(seed=seed)
        if video:
            frames.append(venv.unwrapped.envs[0].render())
        while len(returns) < episodes:
            actions = policy.deterministic_actions(obs) if deterministic else policy.act(obs)["actions"]
            if hasattr(venv.single_action_space, "low"):
                actions = np.clip(actions, venv.single_action_space.low, venv.single_action_space.high)
            obs, _, terminated, truncated, infos = venv.step(actions)
            if video and not returns and len(frames) < MAX_VIDEO_FRAMES:
                frames.append(venv.unwrapped.envs[0].render())
            if terminated[0] or truncated[0]:
                info = infos.get("final_info", {})
                if "episode" in info and info["_episode"][0]:
                    returns.append(float(info["episode"]["r"][0]))
                    echo(f"episode {len(returns)}: return {returns[-1]:.1f}, length {int(info['episode']['l'][0])}")
    finally:
        close_env(venv)
    echo(f"{record['algorithm']} on {record['env_id']} ({os.path.basename(checkpoint)}): "
         f"mean return {np.mean(returns):.1f} ± {np.std(returns):.1f} over {episodes} episodes")
    if video:
        write_video(video, frames)
        echo(f"video of episode 1 written to {video} ({len(frames)} frames)")
    return returns
