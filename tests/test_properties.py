"""Generated bad input (Hypothesis): every command line either trains a few steps or exits 2 with exactly one
line on stderr and no new file; every damaged run directory is either continued or refused the same way, and
nothing outside it changes.

Sizes: CLI_EXAMPLES generated invocations, DAMAGE_EXAMPLES damaged run directories (each resumed, evaluated
and plotted), with a fixed seed so that CI runs the same cases each time."""
import json
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from derl_core.run import checkpoint as ckpt
from derl_core.testing import invoke

CLI_EXAMPLES = 100
DAMAGE_EXAMPLES = 60


def tree(path) -> dict:
    """Every file and link under `path` with its bytes (or link target)."""
    out = {}
    for d, dirs, files in os.walk(path):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            out[p] = ("link", os.readlink(p)) if os.path.islink(p) else open(p, "rb").read()
    return out


def one_line_exit_2(result):
    assert result.exit_code == 2, (result.exit_code, result.stdout[-500:], result.stderr, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derl: error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------- generated commands
SPECIAL_FLOATS = ["nan", "inf", "-inf", "NaN", "1e400", "-0", "1e-400", "0x10", "1_000", " 3 ", "", "1e15"]
ODD_STRINGS = ["", " ", "x", "maybe", "true", "no", "-1", "\x1b[31m", "a\nb", "ü", "../..", "/proc/x", "%s",
               "9" * 25, "1e12", "--", "-"]
INTS = st.one_of(st.integers(-3, 300), st.sampled_from([-(2**63), 2**32, 2**64, 10**20]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-2, 2))
PLAUSIBLE = st.one_of(st.integers(1, 64).map(str), st.floats(0.001, 0.999).map(lambda x: f"{x:.3g}"),
                      st.sampled_from(["true", "false", "cpu"]))
VALUE = st.one_of(PLAUSIBLE, PLAUSIBLE, INTS.map(str), FLOATS.map(repr),
                  st.sampled_from(SPECIAL_FLOATS + ODD_STRINGS), st.text(max_size=6))

ALGS = {"ppo": "CartPole-v1", "a2c": "CartPole-v1", "dqn": "CartPole-v1", "sac": "Pendulum-v1"}
RUN_FLAGS = ["--seed", "--save-replay", "--no-save-replay", "--threads", "--checkpoint-every",
             "--keep-checkpoints", "--device", "--logdir", "--total-steps", "--env-backend", "--bogus-flag"]
SLOW = ("--gradient-steps", "--num-epochs")   # valid large values make a run slow, not wrong: left out


def flags_of(alg: str) -> list:
    from derl_core.plugins import registry
    if alg not in registry().algorithms:
        return RUN_FLAGS
    return [hp.flag for hp in registry().algorithm(alg).hyperparameters if hp.flag not in SLOW] + RUN_FLAGS


ENV_IDS = ["CartPole-v1", "Pendulum-v1", "", "NoSuchEnv-v0", "Cart\x00Pole-v1", "ALE/Nope-v5",
           "HalfCheetah-v9", "x" * 300]


@st.composite
def command(draw):
    alg = draw(st.sampled_from(sorted(ALGS) * 4 + ["pppo"]))
    env_id = ALGS.get(alg, "CartPole-v1") if draw(st.integers(0, 3)) else draw(st.sampled_from(ENV_IDS))
    args = [alg, "--env-id", env_id, "--total-steps", draw(st.sampled_from(["256", "512"])),
            "--device", "cpu"]
    for _ in range(draw(st.integers(0, 3))):
        flag = draw(st.sampled_from(flags_of(alg)))
        args.append(flag)
        if flag not in ("--no-save-replay",) and draw(st.integers(0, 9)) > 0:
            args.append(draw(VALUE))
    return args


@seed(20261127)
@settings(max_examples=CLI_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(args=command())
def test_generated_command_lines_train_or_exit_2_with_one_line_and_no_file(args, monkeypatch):
    with tempfile.TemporaryDirectory() as cwd:
        monkeypatch.chdir(cwd)
        outside = tempfile.mkdtemp()   # where a stray --logdir might point: must stay empty unless trained
        try:
            result = invoke(args)
            event(f"exit {result.exit_code}")
            if result.exit_code in (0, 1):
                # trained; or (exit 1) values that parse but diverge, e.g. --learning-rate 1e19: the run stops
                # at the first non-finite loss with one line and its step-0 checkpoint, as documented
                if result.exit_code == 1:
                    lines = result.stderr.strip().splitlines()
                    assert len(lines) == 1 and "training stopped" in lines[0] and "not finite" in lines[0], \
                        result.stderr
                runs = [d for d, _, fs in os.walk(cwd) if "config.json" in fs]
                assert len(runs) == 1, tree(cwd).keys()
                assert ckpt.list_checkpoints(runs[0]), runs[0]
            else:
                one_line_exit_2(result)
                assert tree(cwd) == {}, list(tree(cwd))
            assert os.listdir(outside) == []
        finally:
            shutil.rmtree(outside, ignore_errors=True)


# --------------------------------------------------------------------------------------- damaged run files
@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("damage") / "run"
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 768, "--checkpoint-every", 256,
                     "--keep-checkpoints", 10, "--seed", 4, "--logdir", run])
    assert result.exit_code == 0, result.stderr
    return run


FILES = ["config.json", "metrics.jsonl", "checkpoints", "newest", "middle", "oldest"]
JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=False),
                        st.text(max_size=8), st.just([]), st.just({}), st.just("7"))


def target(run, which):
    found = ckpt.list_checkpoints(run)
    return {"newest": found[-1], "middle": found[len(found) // 2], "oldest": found[0]}.get(which) \
        or os.path.join(run, which)


@st.composite
def damage(draw):
    kind = draw(st.sampled_from(["truncate", "flip", "edit", "delete_key", "symlink", "garbage", "remove"]))
    which = draw(st.sampled_from(FILES))
    return kind, which, draw(st.integers(0, 10**9)), draw(st.sampled_from(
        ["algorithm", "env_id", "seed", "hyperparameters", "run", "device", "hyperparameters.num_envs",
         "hyperparameters.gamma", "hyperparameters.nsteps", "run.keep_checkpoints", "run.save_replay",
         "run.env_backend"])), \
        draw(JSON_VALUES)


def apply(run, kind, which, number, key, value, outside):
    path = target(run, which)
    if which == "checkpoints" and kind not in ("symlink", "remove"):
        path = target(run, "newest")
    if which == "config.json" and kind in ("edit", "delete_key"):
        record = json.loads(open(path).read())
        node, *rest = key.split(".")
        holder = record if not rest else record.setdefault(node, {})
        leaf = rest[0] if rest else node
        if kind == "edit":
            holder[leaf] = value
        else:
            holder.pop(leaf, None)
        open(path, "w").write(json.dumps(record))
        return
    if kind in ("edit", "delete_key"):
        kind = "flip"
    if kind == "symlink":
        if os.path.isdir(path):
            shutil.copytree(path, os.path.join(outside, "copied"))
            shutil.rmtree(path)
            os.symlink(os.path.join(outside, "copied"), path)
        else:
            shutil.copy(path, os.path.join(outside, "copied"))
            os.remove(path)
            os.symlink(os.path.join(outside, "copied"), path)
    elif kind == "remove":
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    else:
        data = bytearray(open(path, "rb").read())
        if kind == "truncate":
            data = data[:number % (len(data) + 1)]
        elif kind == "flip" and data:
            data[number % len(data)] ^= 1 << (number % 8)
        else:
            data += bytes((number >> s) & 0xFF for s in range(0, 64, 8))
        open(path, "wb").write(bytes(data))


@seed(20261127)
@settings(max_examples=DAMAGE_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(how=damage(), command=st.sampled_from(["resume", "eval", "plot"]))
def test_damaged_run_files_are_continued_or_refused_in_one_line(base_run, how, command, monkeypatch):
    with tempfile.TemporaryDirectory() as work:
        monkeypatch.chdir(work)
        run = os.path.join(work, "run")
        shutil.copytree(base_run, run)
        outside = os.path.join(work, "outside")
        os.mkdir(outside)
        (open(os.path.join(outside, "precious.txt"), "w")).write("mine")
        apply(run, *how, outside)
        before_outside, before_run = tree(outside), tree(run)
        args = {"resume": ["resume", run, "--total-steps", 1024],
                "eval": ["eval", run, "--episodes", 1],
                "plot": ["plot", run, "--out", os.path.join(work, "c.png")]}[command]
        result = invoke(args)
        event(f"{command} exit {result.exit_code}")
        assert tree(outside) == before_outside            # nothing outside the run directory changes
        if result.exit_code != 0:
            one_line_exit_2(result)
            assert tree(run) == before_run                  # refused: nothing the user had is touched
            assert not os.path.exists(os.path.join(work, "c.png"))
