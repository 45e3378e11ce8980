import json
import os
import subprocess
import sys

import pytest

from derl_core.testing import invoke, read_metrics

from .conftest import run_derl


def test_list_and_json():
    result = invoke(["list"])
    assert result.exit_code == 0
    assert "ppo" in result.stdout and "derl-ppo" in result.stdout
    data = json.loads(invoke(["list", "--json"]).stdout)
    algs = {a["name"]: a for a in data["algorithms"]}
    assert algs["ppo"]["distribution"] == "derl-ppo"
    assert {"classic", "atari", "mujoco"} <= set(algs["ppo"]["families"])
    assert {"classic", "atari", "mujoco", "pybullet"} <= {f["name"] for f in data["env_families"]}


@pytest.mark.parametrize("args", [["run", "ppo", "--help"], ["ppo", "-h"], ["ppo"]])
def test_algorithm_help_shows_defaults_per_family(args):
    result = invoke(args)
    assert result.exit_code == 0
    out = result.stdout
    assert "--learning-rate" in out and "--clip-range" in out
    assert "atari" in out and "mujoco" in out and "classic" in out
    assert "0.00025" in out and "0.0003" in out and "0.001" in out   # lr for atari, mujoco, classic


def test_list_does_not_import_torch_and_is_fast():
    code = ("import sys, time; t=time.time(); sys.argv=['derl','list','--json']\n"
            "from derl_core.cli import main\n"
            "try:\n main()\nexcept SystemExit: pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NOTORCH', 'GYM' if 'gymnasium' in sys.modules else '')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().endswith("NOTORCH"), out.stdout[-300:]


BAD_INPUTS = [
    (["pppo", "--env-id", "CartPole-v1"], "unknown algorithm or command 'pppo'.*did you mean 'ppo'"),
    (["run", "pppo", "--env-id", "CartPole-v1"], "unknown algorithm 'pppo'.*did you mean 'ppo'"),
    (["ppo", "--env-id", "NoSuchEnv-v9"], "unknown env id 'NoSuchEnv-v9'"),
    (["ppo", "--env-id", "NoSuchNoFrameskip-v4"], "unknown Atari env id"),
    (["ppo", "--env-id", "CartPole-v1", "--lerning-rate", "1e-3"], "unknown option --lerning-rate.*did you mean"),
    (["ppo", "--env-id", "CartPole-v1", "--nsteps", "many"], "--nsteps expects int"),
    (["ppo", "--env-id", "CartPole-v1", "--gamma", "2"], r"--gamma must be in \[0, 1\]"),
    (["ppo", "--env-id", "CartPole-v1", "--seed", "x"], "--seed expects int"),
    (["ppo", "--seed", "3"], "--env-id is required"),
    (["ppo", "--env-id", "CartPole-v1", "--device", "tpu"], "--device must be"),
    (["ppo", "--env-id", "CartPole-v1", "stray"], "unexpected argument 'stray'"),
    (["list", "--bogus"], "bogus"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_one_line_exit_2_nothing_written(args, message, tmp_path):
    import re
    logdir = tmp_path / "run"
    full = args + (["--logdir", str(logdir)] if args[0] in ("ppo", "run") else [])
    result = invoke(full)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derl: error:"), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not logdir.exists()


def test_cuda_without_gpu_is_bad_input(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--device", "cuda", "--logdir", tmp_path / "r"])
    assert result.exit_code == 2 and "no CUDA GPU" in result.stderr
    assert not (tmp_path / "r").exists()


def test_existing_run_directory_is_never_overwritten(tmp_path):
    logdir = tmp_path / "run"
    logdir.mkdir()
    (logdir / "precious.txt").write_text("keep me")
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--logdir", logdir])
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert (logdir / "precious.txt").read_text() == "keep me"
    assert sorted(os.listdir(logdir)) == ["precious.txt"]


def test_unwritable_logdir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = invoke(["ppo", "--env-id", "CartPole-v1", "--logdir", ro / "run"])
        assert result.exit_code == 2 and "not writable" in result.stderr
    finally:
        ro.chmod(0o700)


def test_action_space_the_algorithm_cannot_handle(tmp_path, hello_site):
    out = run_derl(["hello", "--env-id", "Pendulum-v1", "--logdir", tmp_path / "r"],
                   {"PYTHONPATH": hello_site})
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().count("\n") == 0 and "cannot handle Box actions" in out.stderr
    assert not (tmp_path / "r").exists()


def test_run_writes_config_summaries_and_says_where(tmp_path):
    logdir = tmp_path / "run"
    result = invoke(["run", "ppo", "--env-id", "CartPole-v1", "--total-steps", "2000", "--logdir", logdir,
                     "--learning-rate", "5e-4", "--no-anneal-lr"])
    assert result.exit_code == 0, result.stderr
    cfg = json.loads((logdir / "config.json").read_text())
    assert cfg["hyperparameters"]["learning_rate"] == 5e-4 and cfg["hyperparameters"]["anneal_lr"] is False
    assert cfg["hyperparameters"]["nsteps"] == 32 and cfg["family"] == "classic"
    assert f"tensorboard --logdir {logdir}" in result.stdout
    names = {k for row in read_metrics(logdir) for k in row}
    for name in ("charts/episodic_return", "charts/episodic_length", "charts/learning_rate",
                 "losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl",
                 "losses/clipfrac", "losses/explained_variance"):
        assert name in names
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(logdir))


def test_default_run_directory(tmp_path):
    out = run_derl(["ppo", "--env-id", "CartPole-v1", "--total-steps", "300", "--seed", "5"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (name,) = os.listdir(tmp_path / "runs")
    assert name.startswith("CartPole-v1__ppo__5__")
    assert "step " in out.stdout   # plain progress lines when stdout is not a terminal


def test_logdir_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--logdir", tmp_path / "afile" / "run"])
    assert result.exit_code == 2 and "not writable" in result.stderr
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("alg", ["ppo", "dqn", "sac"])
def test_algorithm_help_is_whole_in_80_columns_and_piped(alg):
    out = run_derl([alg, "-h"], {"COLUMNS": "80"})
    assert out.returncode == 0 and "…" not in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 80
    from derl_core.plugins import registry
    for hp in registry().algorithm(alg).hyperparameters:
        assert f"{hp.flag} {hp.type.__name__.upper()}" in out.stdout


def test_progress_bar_numbers_stay_whole_in_80_columns():
    import io

    from rich.console import Console

    from derl_core.run.summary import Progress
    sink = io.StringIO()
    bar = Progress(300_000, console=Console(file=sink, width=80, force_terminal=True))
    bar.update(123_456, 42, 187.25, 4321.0)
    bar.close()
    text = sink.getvalue()
    assert "123456/300000" in text and "…" not in text and "R100 187.2" in text


@pytest.mark.parametrize("args", [["-h"], ["list", "-h"], ["eval", "-h"], ["resume", "-h"], ["plot", "-h"],
                                  ["export", "-h"]])
def test_short_help_everywhere(args):
    """The original derl documents `derl -h`; -h is --help for every command."""
    out = run_derl(args)
    assert out.returncode == 0 and "Usage" in out.stdout, out.stderr


ASCII = {"PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}


def test_every_command_works_in_an_ascii_locale(tmp_path):
    """An ASCII-only terminal: derl's own symbols get ASCII spellings, nothing ends a command (the eval line's
    +- ended `derl eval` with a UnicodeEncodeError)."""
    from derl_core.cli import app, build_app
    import typer.main
    build_app()
    commands = sorted(typer.main.get_command(app).commands)
    assert {"list", "eval", "export", "plot", "resume", "ppo"} <= set(commands)
    for name in commands:
        res = run_derl([name, "-h"], env_extra=ASCII)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (name, res.stderr[-500:])
    run = tmp_path / "r"
    steps = [["ppo", "--env-id", "CartPole-v1", "--total-steps", "256", "--nsteps", "32", "--logdir", run],
             ["eval", run, "--episodes", "2"], ["export", run, "--out", tmp_path / "p.onnx"],
             ["plot", run, "--out", tmp_path / "c.png"], ["list"], ["resume", run, "--total-steps", "300"]]
    for args in steps:
        res = run_derl(args, env_extra=ASCII)
        assert res.returncode == 0 and "Traceback" not in res.stderr, (args[0], res.stderr[-500:])
        assert all(ord(ch) < 128 for ch in res.stdout + res.stderr)
    assert "+-" in run_derl(["eval", run, "--episodes", "2"], env_extra=ASCII).stdout


def test_the_fallback_spells_symbols_in_ascii():
    import io
    from derl_core.cli import any_encoding
    any_encoding()
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="derl-fallback")
    stream.write("5.0 \u00b1 0.1 \u2026 \u00e9")
    stream.flush()
    assert stream.buffer.getvalue() == b"5.0 +- 0.1 ... \\xe9"
