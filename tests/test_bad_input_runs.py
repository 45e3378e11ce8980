"""Bad input for resume, eval and plot: one line on stderr, exit 2, nothing written or lost.
(Training-time bad input is in test_cli.py; docs/errors.md lists every case.)"""
import json
import os
import shutil

import pytest

from derl_core.run import checkpoint as ckpt
from derl_core.testing import invoke


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "ppo"
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 1024, "--checkpoint-every", 512,
                     "--logdir", run])
    assert result.exit_code == 0, result.stderr
    return run


def snapshot(path):
    return {os.path.join(d, f): open(os.path.join(d, f), "rb").read() for d, _, fs in os.walk(path) for f in fs}


def check_bad(args, message, keep=()):
    before = {p: snapshot(p) for p in keep}
    result = invoke(args)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    for p in keep:
        assert snapshot(p) == before[p]


def test_resume_missing_directory(tmp_path):
    check_bad(["resume", tmp_path / "nope"], "does not exist")


def test_resume_foreign_directory(tmp_path):
    (tmp_path / "x.txt").write_text("mine")
    check_bad(["resume", tmp_path], "is not a derl run directory", keep=[tmp_path])


def test_resume_finished_run_needs_more_steps(ppo_run):
    check_bad(["resume", ppo_run], "already reached its 1024 steps", keep=[ppo_run])


def test_resume_total_steps_not_beyond(ppo_run):
    check_bad(["resume", ppo_run, "--total-steps", 10], "is not beyond the checkpoint's step", keep=[ppo_run])


def test_resume_missing_checkpoint_file(ppo_run, tmp_path):
    check_bad(["resume", ppo_run, "--total-steps", 4096, "--checkpoint", tmp_path / "none.pt"], "does not exist",
              keep=[ppo_run])


def test_checkpoint_from_another_algorithm(ppo_run, tmp_path):
    other = tmp_path / "a2c"
    assert invoke(["a2c", "--env-id", "CartPole-v1", "--total-steps", 200, "--logdir", other]).exit_code == 0
    foreign = ckpt.list_checkpoints(ppo_run)[-1]
    check_bad(["resume", other, "--total-steps", 4096, "--checkpoint", foreign], "is from algorithm 'ppo'",
              keep=[other, ppo_run])
    check_bad(["eval", other, "--checkpoint", foreign], "is from algorithm 'ppo'", keep=[other])


def test_not_a_checkpoint(ppo_run, tmp_path):
    bogus = tmp_path / "ckpt.pt"
    import torch
    torch.save({"hello": 1}, bogus)
    check_bad(["eval", ppo_run, "--checkpoint", bogus], "not a derl checkpoint")


def test_run_of_an_uninstalled_algorithm(ppo_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(ppo_run, copy)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["algorithm"] = "nosuchalg"
    (copy / "config.json").write_text(json.dumps(cfg))
    check_bad(["resume", copy, "--total-steps", 4096], "unknown algorithm 'nosuchalg'", keep=[copy])


def test_corrupt_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    check_bad(["resume", tmp_path], "is not a derl run configuration", keep=[tmp_path])


def test_eval_run_without_checkpoint(ppo_run, tmp_path):
    run = tmp_path / "r"
    shutil.copytree(ppo_run, run)
    shutil.rmtree(run / "checkpoints")
    check_bad(["eval", run], "has no checkpoint to evaluate", keep=[run])


def test_eval_video_bad_extension(ppo_run, tmp_path):
    check_bad(["eval", ppo_run, "--video", tmp_path / "out.avi"], "--video must end in .mp4 or .gif")


def test_eval_video_would_overwrite(ppo_run, tmp_path):
    (tmp_path / "mine.gif").write_text("precious")
    check_bad(["eval", ppo_run, "--video", tmp_path / "mine.gif"], "already exists", keep=[tmp_path])


def test_eval_bad_episodes(ppo_run):
    check_bad(["eval", ppo_run, "--episodes", 0], "--episodes")


def test_plot_missing_and_foreign_runs(ppo_run, tmp_path):
    check_bad(["plot", tmp_path / "nope", "--out", tmp_path / "c.png"], "does not exist")
    check_bad(["plot", tmp_path, "--out", tmp_path / "c.png"], "is not a derl run directory")
    assert not (tmp_path / "c.png").exists()


def test_plot_would_overwrite_and_needs_png(ppo_run, tmp_path):
    (tmp_path / "c.png").write_text("mine")
    check_bad(["plot", ppo_run, "--out", tmp_path / "c.png"], "already exists", keep=[tmp_path])
    check_bad(["plot", ppo_run, "--out", tmp_path / "c.jpg"], "--out must end in .png")


def test_plot_run_without_metrics(ppo_run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(ppo_run, copy)
    os.remove(copy / "metrics.jsonl")
    check_bad(["plot", copy, "--out", tmp_path / "c.png"], "has no metrics.jsonl")


def test_bad_checkpoint_every():
    check_bad(["ppo", "--env-id", "CartPole-v1", "--checkpoint-every", 0], "--checkpoint-every must be in [1, ")
