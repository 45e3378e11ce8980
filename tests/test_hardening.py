"""Issue 20: run directories that survive mistakes and attackers — each class of problem has one mechanism,
and a test that searches the class (generated where the class is large)."""
import json
import os
import shutil
import subprocess

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from derl_core.run import checkpoint as ckpt
from derl_core.testing import invoke, read_metrics

from .conftest import DERL
from .test_your_env import one_line_exit_2   # returns the line


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    path = tmp_path_factory.mktemp("hard") / "run"
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 1024, "--checkpoint-every", 256,
                     "--keep-checkpoints", 10, "--logdir", path])
    assert result.exit_code == 0, result.stderr
    return path


@pytest.fixture
def run(base, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(base, dst)
    return dst


def newest(run):
    return ckpt.list_checkpoints(str(run))[-1]


def forge(run, mutate):
    """A checkpoint with a valid header and checksum whose contents `mutate` changed: derl's own writer, so
    only validation against what was built can catch it."""
    state = ckpt.load(newest(run))
    step = state.pop("step")
    state.pop("format")
    mutate(state)
    return ckpt.save(str(run), state, step + 1, keep=100)


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, path + (k,))
    elif isinstance(tree, torch.Tensor) and tree.dim() > 0:
        yield path


def at(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def put(tree, path, value):
    at(tree, path[:-1])[path[-1]] = value


@pytest.mark.parametrize("where", ["model", "optimizer"])
def test_a_forged_optimizer_or_model_tensor_of_another_shape_is_refused_before_loading(run, where):
    """The probe's worst case: Adam's exp_avg of the wrong shape loads under weights_only and the fused step
    writes out of bounds (SIGABRT). Now: one line, exit 2, and the run is untouched."""
    def mutate(state):
        sub = state["alg"][where]
        path = next(p for p in leaves(sub) if "exp_avg" in p or where == "model")
        t = at(sub, path)
        put(sub, path, torch.zeros(t.shape[0] + 3, *t.shape[1:], dtype=t.dtype))
    forge(run, mutate)
    rows = len(read_metrics(run))
    out = subprocess.run([DERL, "resume", str(run), "--total-steps", "2048"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "does not fit this run" in out.stderr, out.stderr
    assert len(read_metrics(run)) == rows


KINDS = ["shape", "dtype", "nan", "type", "drop"]   # drop: the entry is missing


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_forged_tensor_is_refused_in_one_line_by_resume_eval_and_load(base, tmp_path_factory, data):
    """Generated: any tensor of the checkpoint's algorithm state (model, optimizer, runner), any damage."""
    run = tmp_path_factory.mktemp("forged") / "run"
    shutil.copytree(base, run)
    state = ckpt.load(newest(run))
    paths = sorted(leaves(state["alg"]), key=str)
    path = data.draw(st.sampled_from(paths), "path")
    kind = data.draw(st.sampled_from(KINDS), "kind")
    t = at(state["alg"], path)
    if kind == "nan" and not t.is_floating_point():
        kind = "dtype"
    forged = {"shape": lambda: torch.zeros(*t.shape[:-1], t.shape[-1] + 1, dtype=t.dtype),
              "dtype": lambda: t.to(torch.float64 if t.dtype != torch.float64 else torch.float32),
              "nan": lambda: torch.full_like(t, float("nan")),
              "type": lambda: "not a tensor",
              "drop": None}[kind]

    def mutate(s):
        if forged is None:
            del at(s["alg"], path[:-1])[path[-1]]
        else:
            put(s["alg"], path, forged())
    forge(run, mutate)
    for args in (["resume", run, "--total-steps", 2048], ["eval", run, "--episodes", 1]):
        result = invoke(args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code in (1, 2) and len(lines) == 1, (path, kind, result.stderr, result.exception)
        assert ("not finite" in lines[0]) == (kind == "nan" and result.exit_code == 1), lines
    from derl_core import BadInput, load
    with pytest.raises(BadInput):
        load(str(run))


def test_foreign_files_never_count_toward_keep_checkpoints(run):
    foreign = run / "checkpoints" / "ckpt_999999999999.pt"
    foreign.write_bytes(b"not derl's")
    forged_future = run / "checkpoints" / "ckpt_100000000000.pt"   # derl's header, not derl's contents
    forged_future.write_bytes(ckpt.MAGIC + b"0" * 200)
    config = json.loads((run / "config.json").read_text())
    config["run"]["keep_checkpoints"] = 1
    (run / "config.json").write_text(json.dumps(config))
    result = invoke(["resume", run, "--total-steps", 1536])
    assert result.exit_code == 0, result.stderr
    names = sorted(os.listdir(run / "checkpoints"))
    assert "ckpt_999999999999.pt" in names                                   # not derl's: never touched
    aside = os.listdir(run / "checkpoints" / "superseded")                   # derl's header, a later step:
    assert any(n.endswith(os.path.basename(forged_future)) for n in aside)   # a future moved aside, not lost
    assert "ckpt_000000001536.pt" in names                                                 # the real one kept
    assert max(r["step"] for r in read_metrics(run)) == 1536


def test_checkpoints_replaced_by_a_plain_file_keeps_the_metrics(run):
    rows = len(read_metrics(run))
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").write_text("a file")
    line = one_line_exit_2(invoke(["resume", run, "--total-steps", 2048]))
    assert "checkpoints" in line and "not a directory" in line
    assert len(read_metrics(run)) == rows


def test_a_second_writer_gets_one_line_naming_the_holder(run):
    from derl_core.run.fence import Lock
    with Lock(str(run)):
        line = one_line_exit_2(invoke(["resume", run, "--total-steps", 2048]))
        assert f"pid {os.getpid()}" in line
        assert invoke(["eval", run, "--episodes", 1]).exit_code == 0   # readers never wait on it
    assert invoke(["resume", run, "--total-steps", 1280]).exit_code == 0   # released


def test_two_resumes_at_once_one_wins_and_the_run_stays_consistent(run):
    procs = [subprocess.Popen([DERL, "resume", str(run), "--total-steps", "3072"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    assert "in use by another derl" in [o for p, o in zip(procs, outs) if p.returncode == 2][0][1]
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == sorted(steps) and max(steps) == 3072
    assert json.loads((run / "config.json").read_text())["hyperparameters"]["total_steps"] == 3072
    assert ckpt.list_checkpoints(str(run))[-1].endswith("ckpt_000000003072.pt")


def test_resuming_from_an_older_checkpoint_moves_the_newer_ones_aside(run):
    older = ckpt.list_checkpoints(str(run))[1]   # step 256
    assert invoke(["resume", run, "--checkpoint", older, "--total-steps", 768]).exit_code == 0
    steps = [int(os.path.basename(p)[5:17]) for p in ckpt.list_checkpoints(str(run))]
    assert max(steps) == 768 and 1024 not in steps        # no stale future left for eval or the next resume
    assert any("1024" in n for n in os.listdir(run / "checkpoints" / "superseded"))   # moved aside, not lost
    rows = [r["step"] for r in read_metrics(run)]
    assert rows == sorted(rows) and max(rows) == 768


def test_resume_total_steps_goes_through_the_resolver(run):
    line = one_line_exit_2(invoke(["resume", run, "--total-steps", "99999999999999999999"]))
    assert "--total-steps" in line
    assert invoke(["eval", run, "--episodes", 1]).exit_code == 0   # config.json untouched and still readable


@pytest.mark.parametrize("where", ["checkpoint", "metrics"])
def test_a_fifo_where_derl_reads_never_hangs(run, where):
    if where == "checkpoint":
        target = run / "checkpoints" / "ckpt_000000009999.pt"
        args = ["eval", str(run), "--episodes", 1, "--checkpoint", str(target)]
    else:
        target = run / "metrics.jsonl"
        target.unlink()
        args = ["resume", str(run), "--total-steps", 2048]
    os.mkfifo(target)
    out = subprocess.run([DERL, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "not a regular file" in out.stderr or "link" in out.stderr


@pytest.mark.parametrize("name, combo", [("../escaped__seed=0", "x"), ("ok__seed=0", "../victim"),
                                         ("a/b", "x"), ("..", "x"), ("", "x")])
def test_a_sweep_plan_cannot_name_a_place_outside_the_sweep(tmp_path, name, combo):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    plan = {"algorithm": "ppo", "env_id": "CartPole-v1", "options": {}, "runs": [
        {"name": name, "combo": combo, "seed": 0, "total_steps": 256, "overrides": {}}]}
    (sweep / "sweep.json").write_text(json.dumps(plan))
    before = sorted(os.listdir(tmp_path))
    line = one_line_exit_2(invoke(["resume", sweep]))
    assert "plain file name" in line or "not a derl sweep plan" in line, line
    assert sorted(os.listdir(tmp_path)) == before and os.listdir(sweep) == ["sweep.json"]


@pytest.mark.parametrize("errno_", [28, 30, 13])   # ENOSPC, EROFS, EACCES
def test_os_errors_while_checkpointing_are_one_line_naming_the_file(run, monkeypatch, errno_):
    real = os.replace

    def failing(src, dst, *a, **k):
        if str(dst).endswith(".pt"):
            raise OSError(errno_, os.strerror(errno_))
        return real(src, dst, *a, **k)
    monkeypatch.setattr(os, "replace", failing)
    result = invoke(["resume", run, "--total-steps", 2048])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code in (1, 2) and len(lines) == 1 and os.strerror(errno_) in lines[0], result.stderr
    assert "ckpt_" in lines[0]
    assert not [n for n in os.listdir(run / "checkpoints") if n.endswith(".partial")]


@pytest.mark.parametrize("field, value", [("name", 123), ("name", "Bad Name"), ("hyperparameters", None),
                                          ("action_spaces", "Discrete"), ("factory", 7), ("check", "yes")])
def test_a_plugin_spec_with_a_field_of_the_wrong_type_breaks_only_that_plugin(field, value):
    from dataclasses import replace
    from derl_core.plugins import registry
    from derl_core.spec import spec_problem
    good = registry().algorithm("ppo")
    assert spec_problem(good) is None
    assert spec_problem(replace(good, **{field: value})) is not None


def test_a_family_spec_with_a_field_of_the_wrong_type_is_refused():
    from dataclasses import replace
    from derl_core.plugins import registry
    from derl_core.spec import spec_problem
    fam = registry().families["classic"]
    assert spec_problem(fam) is None
    for field, value in (("priority", "high"), ("vectorization", "threads"), ("matches", None), ("module", 3)):
        assert spec_problem(replace(fam, **{field: value})) is not None, field


def test_sigterm_or_sigkill_during_eval_video_leaves_no_file_behind(run, tmp_path):
    """Outputs are written under a hidden temporary name and linked into place at the end: a SIGTERM (the
    renderer's own handler notwithstanding) stops eval with one line and exit 143, a SIGKILL leaves no empty
    file that the next command would refuse."""
    import signal
    import time
    for sig in (signal.SIGTERM, signal.SIGKILL):
        video = tmp_path / f"v{sig}.gif"
        proc = subprocess.Popen([DERL, "eval", str(run), "--episodes", "1000000", "--video", str(video)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120   # until eval holds its hidden temporary (a loaded machine: not 6 s)
        while time.time() < deadline and not list(tmp_path.glob(f".{video.name}.*.partial.gif")):
            time.sleep(0.1)
        time.sleep(1.0)   # into the episodes
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert not video.exists()
        if sig == signal.SIGTERM:
            assert proc.returncode == 143 and err.strip().splitlines() == [
                f"derl: error: stopped by SIGTERM; nothing was written to '{video}'"], err
            assert not [n for n in os.listdir(tmp_path) if ".partial" in n]
    out = invoke(["eval", run, "--episodes", 1, "--video", tmp_path / f"v{signal.SIGKILL}.gif"])
    assert out.exit_code == 0 and (tmp_path / f"v{signal.SIGKILL}.gif").stat().st_size > 0


def test_forged_runner_observations_of_another_shape_are_refused(run):
    def mutate(state):
        state["runner_obs"] = state["runner_obs"][:, :2]
    forge(run, mutate)
    line = one_line_exit_2(invoke(["resume", run, "--total-steps", 2048]))
    assert "runner_obs: shape" in line
