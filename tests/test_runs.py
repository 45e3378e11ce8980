"""Runs a user can trust: checkpoints, exact resume after signals, crashes, eval and plot. (Exact resume from
a middle checkpoint and the NaN stop are part of every algorithm's contract: test_contract.)"""
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import torch

from derl_core.run import checkpoint as ckpt
from derl_core.testing import invoke, read_metrics, same_state

from .conftest import DERL, run_derl


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_checkpoints_then_resume_matches_uninterrupted(signum, code, tmp_path):
    args = ["ppo", "--env-id", "CartPole-v1", "--total-steps", 16000, "--seed", 3, "--checkpoint-every", 100000]
    ref = run_derl([*args, "--logdir", tmp_path / "ref"])
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen([DERL, *map(str, args), "--logdir", str(tmp_path / "run")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.stat().st_size > 1000):
        time.sleep(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "derl resume" in out
    step = ckpt.load(ckpt.list_checkpoints(tmp_path / "run")[-1])["step"]
    assert 0 <= step < 16000   # the clean point before the signal (step 0 when it came in the first rollout)
    res = run_derl(["resume", tmp_path / "run"])
    assert res.returncode == 0, res.stderr
    a = ckpt.load(ckpt.list_checkpoints(tmp_path / "ref")[-1])
    b = ckpt.load(ckpt.list_checkpoints(tmp_path / "run")[-1])
    same_state(a["alg"], b["alg"])
    assert (tmp_path / "ref" / "metrics.jsonl").read_text() == metrics.read_text()


def test_crash_during_checkpoint_write_keeps_a_loadable_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 2048, "--checkpoint-every", 512,
                   "--logdir", run]).exit_code == 0
    before = ckpt.list_checkpoints(run)

    def crash(src, dst, **dir_fds):
        raise OSError(5, "simulated crash between write and rename")
    monkeypatch.setattr(os, "replace", crash)
    from derl_core import BadInput
    with pytest.raises(BadInput, match="simulated crash"):   # the fence's one line, naming the file
        ckpt.save(str(run), {"algorithm": "ppo"}, 999_999)
    monkeypatch.undo()
    assert ckpt.list_checkpoints(run) == before          # the partial file is not taken for a checkpoint
    ckpt.load(before[-1])


def test_sigkill_at_random_moments_never_leaves_the_run_without_a_loadable_checkpoint(tmp_path):
    run = tmp_path / "run"
    args = ["ppo", "--env-id", "CartPole-v1", "--total-steps", 60000, "--checkpoint-every", 256,
            "--keep-checkpoints", 2, "--logdir", str(run)]
    proc = subprocess.Popen([DERL, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = np.random.default_rng(0)
    while not ckpt.list_checkpoints(run):
        time.sleep(0.02)
    time.sleep(rng.uniform(0.1, 0.6))
    proc.kill()
    proc.wait()
    for _ in range(3):   # resume, kill again at another moment
        newest = ckpt.list_checkpoints(run)[-1]
        ckpt.load(newest)
        proc = subprocess.Popen([DERL, "resume", str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 3.5))
        proc.kill()
        proc.wait()
    ckpt.load(ckpt.list_checkpoints(run)[-1])
    assert run_derl(["resume", run]).returncode == 0


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('DERL_PWNED', '/tmp/derl-pwned')}",))


def forge(path, obj):
    """A file with derl's header and a correct checksum around torch.save(obj): only the unpickler can stop it."""
    import hashlib
    import io
    buf = io.BytesIO()
    torch.save(obj, buf)
    body = buf.getvalue()
    with open(path, "wb") as f:
        f.write(ckpt.MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    run = tmp_path / "run"
    assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 600, "--logdir", run]).exit_code == 0
    marker = tmp_path / "pwned"
    os.environ["DERL_PWNED"] = str(marker)
    evil = run / "checkpoints" / "ckpt_999999999999.pt"
    forge(evil, {"format": 2, "step": 5, "algorithm": "ppo", "payload": Evil()})
    for args in (["resume", run, "--total-steps", 10**6], ["eval", run]):
        result = invoke(args)
        assert result.exit_code == 2, result.stderr
        assert "carries pickled code" in result.stderr and str(evil) in result.stderr
        assert not marker.exists()


def test_corrupt_checkpoint_is_named_and_resume_continues_from_the_previous(tmp_path):
    run = tmp_path / "run"
    assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 1024, "--checkpoint-every", 256,
                   "--logdir", run]).exit_code == 0
    *_, prev, newest = ckpt.list_checkpoints(run)
    with open(newest, "r+b") as f:
        f.truncate(os.path.getsize(newest) // 2)
    result = invoke(["resume", run, "--total-steps", 4096, "--checkpoint", newest])
    assert result.exit_code == 2
    assert "is damaged" in result.stderr and newest in result.stderr
    result = invoke(["resume", run, "--total-steps", 2048])
    assert result.exit_code == 0, result.stderr
    assert newest in result.stderr and "trying the previous one" in result.stderr


def test_dead_env_worker_is_a_clear_error_with_a_checkpoint(tmp_path, hello_site):
    out = run_derl(["ppo", "--env-id", "Crash-v0", "--num-envs", 2, "--nsteps", 16, "--total-steps", 5000,
                    "--logdir", tmp_path / "r"], {"PYTHONPATH": hello_site}, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "env Crash-v0: worker" in out.stderr and "died" in out.stderr
    assert ckpt.list_checkpoints(tmp_path / "r")


def test_eval_writes_gif_and_mp4_and_plot_writes_png(tmp_path):
    import imageio.v2 as imageio
    runs = []
    for seed in (1, 2, 3):
        run = tmp_path / f"s{seed}"
        assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 3000, "--seed", seed,
                       "--logdir", run]).exit_code == 0
        runs.append(run)
    for name in ("play.gif", "play.mp4"):
        result = invoke(["eval", runs[0], "--episodes", 2, "--video", tmp_path / name])
        assert result.exit_code == 0, result.stderr
        assert "mean return" in result.stdout
        frames = imageio.mimread(tmp_path / name, memtest=False) if name.endswith("gif") else \
            [f for f in imageio.get_reader(tmp_path / name)]
        assert len(frames) > 5 and frames[0].shape[-1] == 3
    result = invoke(["plot", *runs, "--out", tmp_path / "curves.png"])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_every_logs_deterministic_returns_without_changing_training_and_resumes_exactly(tmp_path):
    base = ["ppo", "--env-id", "CartPole-v1", "--total-steps", 4096, "--seed", 3, "--checkpoint-every", 1024,
            "--keep-checkpoints", 10]
    evals = ["--eval-every", 1024, "--eval-episodes", 2]
    full, plain, cut = tmp_path / "full", tmp_path / "plain", tmp_path / "cut"
    assert invoke([*base, *evals, "--logdir", full]).exit_code == 0
    assert invoke([*base, "--logdir", plain]).exit_code == 0
    rows = [r for r in read_metrics(full) if "charts/eval_return" in r]
    assert [r["step"] for r in rows] == [1024, 2048, 3072, 4096] and all(r["charts/eval_return"] > 0 for r in rows)
    same_state(ckpt.load(ckpt.list_checkpoints(full)[-1])["alg"], ckpt.load(ckpt.list_checkpoints(plain)[-1])["alg"])
    shutil.copytree(full, cut)
    for later in ckpt.list_checkpoints(cut)[3:]:
        os.remove(later)
    assert invoke(["resume", cut]).exit_code == 0
    assert (cut / "metrics.jsonl").read_text() == (full / "metrics.jsonl").read_text()
    assert invoke(["plot", full, "--out", tmp_path / "c.png"]).exit_code == 0
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--eval-episodes", 3, "--logdir", tmp_path / "x"])
    assert result.exit_code == 2 and "--eval-episodes needs --eval-every" in result.stderr
