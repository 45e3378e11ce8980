"""The one defensive reader (derl_core.files) behind every file derl reads back: config.json, metrics.jsonl,
sweep.json, tune.json, preset files, the study database. Generated damaged files (Hypothesis): every field of
each file replaced by a value of another type, a huge or non-finite number, deep nesting, or the raw text cut
short; each reader either returns a value of the expected shape or raises BadInput — one line naming the file —
and the command line turns that into exit 2."""
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from derl_core import files, preset
from derl_core.errors import BadInput
from derl_core.plugins import registry
from derl_core.run import rundir
from derl_core.testing import invoke

from .test_properties import one_line_exit_2

# raw JSON text put in place of a field's value: what json.dumps cannot write but a damaged file can hold
RAW = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "-" + "9" * 400,
                       "[" * 200 + "]" * 200, "[" * 5000 + "]" * 5000, "{\"a\":" * 30 + "1" + "}" * 30, "1.5", "-1", "0", "true", "null",
                       "\"\"", "\"x\"", "[]", "{}", "[1, \"a\"]", "18446744073709551617", "\"\\u0000\"",
                       "\"\\ud800\""])
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                   st.text(max_size=6), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
SAMPLED = settings(max_examples=60, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def damaged_text(record: dict, path: tuple, value, raw, cut) -> str:
    """`record` as JSON with the field at `path` (keys) set to `value`, or to the raw text `raw`, or removed
    (value "<delete>"); then cut to `cut` characters when given."""
    record = json.loads(json.dumps(record))
    holder = record
    for key in path[:-1]:
        holder = holder[key] if isinstance(holder, dict) else holder[int(key)]
    if value == "<delete>":
        holder.pop(path[-1], None) if isinstance(holder, dict) else None
        text = json.dumps(record)
    elif raw is not None:
        holder[path[-1]] = "@@RAW@@"
        text = json.dumps(record).replace('"@@RAW@@"', raw)
    else:
        holder[path[-1]] = value
        text = json.dumps(record)
    return text if cut is None else text[:cut]


def leaf_paths(record, prefix=()):
    """Every field's path in `record` (objects and lists, two levels deep)."""
    out = []
    items = record.items() if isinstance(record, dict) else enumerate(record) if isinstance(record, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        if len(prefix) < 2:
            out.extend(leaf_paths(value, prefix + (key,)))
    return out


@st.composite
def damage(draw, record):
    path = draw(st.sampled_from(leaf_paths(record)))
    kind = draw(st.sampled_from(["value", "raw", "delete", "cut"]))
    value = draw(VALUES) if kind == "value" else "<delete>" if kind == "delete" else None
    raw = draw(RAW) if kind == "raw" else None
    cut = draw(st.integers(0, len(json.dumps(record)))) if kind == "cut" else None
    return path, value, raw, cut


def refused_in_one_line(exc: BadInput, path):
    message = str(exc)
    assert "\n" not in message and len(message) < 400, message
    assert os.path.basename(str(path)) in message, message


# --------------------------------------------------------------------------------------- the parser itself
@SAMPLED
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_a_value_or_one_bad_input(data):
    try:
        files.parse_json(data, "/x/f.json", "derl file")
    except BadInput as exc:
        refused_in_one_line(exc, "f.json")


@pytest.mark.parametrize("text, says", [
    ("[" * 100_000 + "]" * 100_000, "nested"),      # deeper than Python's recursion limit
    ("[" * 17 + "]" * 17, "nested deeper than 16"),
    ("9" * 5000, "not valid JSON"),                  # longer than Python converts to an int
    ("{\"a\": NaN}", "not a finite number"),
    ("1e400", "not finite"),
    (b"\xff\xfe{}", "not UTF-8"),
    ("", "not valid JSON"),
])
def test_what_the_parser_refuses(text, says):
    with pytest.raises(BadInput, match=None) as info:
        files.parse_json(text, "/x/f.json", "derl file")
    assert says in str(info.value) and "f.json" in str(info.value)


def test_fields_are_checked_by_type_and_range():
    schema = {"n": files.Field(int, 1, 10), "x": files.Field(float, 0, 1), "s": files.Field(str, optional=True)}
    assert files.check({"n": 3, "x": 1}, schema, "f", "file") == {"n": 3, "x": 1}
    for bad in ({"n": True, "x": 0.5}, {"n": 11, "x": 0.5}, {"n": 2.0, "x": 0.5}, {"n": 2, "x": float("nan")},
                {"n": 2}, {"n": 2, "x": 0.5, "s": 3}, [1]):
        with pytest.raises(BadInput):
            files.check(bad, schema, "f", "file")


def test_metric_rows_keep_numbers_and_skip_the_rest():
    good = '{"step": 4, "charts/episodic_return": 1.5, "losses/value": NaN}'
    assert files.metric_row(good)["step"] == 4
    for bad in ('{"step": -1}', '{"step": 1.0}', '{"step": true}', '{"step": 4, "r": "x"}', '{"step": 4, "r": [1]}',
                '[1]', '{"step": ' + "9" * 5000 + "}", '{"step": 4', "", "x" * 70_000):
        assert files.metric_row(bad) is None, bad


# --------------------------------------------------------------------------------------- each file derl reads
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("files") / "run"
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 256, "--nsteps", 64, "--num-envs", 2,
                     "--logdir", run])
    assert result.exit_code == 0, result.stderr
    return run


def config_record(run):
    return json.loads((run / "config.json").read_text())


@seed(20261207)
@SAMPLED
@given(data=st.data())
def test_damaged_config_json_is_read_or_refused_in_one_line(tiny_run, tmp_path, data):
    record = config_record(tiny_run)
    how = data.draw(damage(record))
    run = Path(tempfile.mkdtemp(dir=tmp_path))
    (run / "config.json").write_text(damaged_text(record, *how))
    try:
        rundir.read_run(str(run)).validate(registry(), str(run / "config.json"))
    except BadInput as exc:
        refused_in_one_line(exc, "config.json")


@seed(20261207)
@SAMPLED
@given(data=st.data())
def test_damaged_metrics_lines_are_skipped_never_trusted(tiny_run, tmp_path, data):
    lines = (tiny_run / "metrics.jsonl").read_text().splitlines()
    row = json.loads(lines[-1])
    how = data.draw(damage(row))
    run = Path(tempfile.mkdtemp(dir=tmp_path))
    (run / "metrics.jsonl").write_text("\n".join(lines[:-1] + [damaged_text(row, *how)]) + "\n")
    rows = rundir.read_metrics(str(run))
    assert len(rows) in (len(lines) - 1, len(lines))
    for r in rows:
        assert isinstance(r["step"], int) and 0 <= r["step"] <= 2**62
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r.values())


def sweep_record():
    from derl_core.sweep import make_plan
    reg = registry()
    plan = make_plan(reg, "ppo", "CartPole-v1", [0, 1], {"gamma": ["0.9", "0.99"]}, {"total_steps": "256"})
    return {"algorithm": "ppo", "env_id": "CartPole-v1", "options": {}, "runs": plan}


@seed(20261207)
@SAMPLED
@given(data=st.data())
def test_damaged_sweep_plan_is_read_or_refused_in_one_line(tmp_path, data):
    from derl_core.sweep import read_plan
    record = sweep_record()
    how = data.draw(damage(record))
    where = Path(tempfile.mkdtemp(dir=tmp_path))
    (where / "sweep.json").write_text(damaged_text(record, *how))
    try:
        plan = read_plan(str(where))
    except BadInput as exc:
        refused_in_one_line(exc, "sweep.json")
        return
    for entry in plan["runs"]:   # what numpy's seeding and the run's clock need
        assert isinstance(entry["seed"], int) and 0 <= entry["seed"] < 2**32
        assert isinstance(entry["total_steps"], int) and entry["total_steps"] > 0


TUNE_PLAN = {"algorithm": "ppo", "env_id": "CartPole-v1", "trials": 2, "searches": ["learning-rate=log:1e-4:1e-3"],
             "fixed": {"total_steps": "256"}, "options": {"eval_every": 128, "eval_episodes": 1}, "seeds": 1,
             "seed": 1, "parallel": 1, "study": "derl", "storage": None, "startup_trials": 1, "warmup_steps": 64,
             "total_steps": 256}


@seed(20261207)
@SAMPLED
@given(data=st.data())
def test_damaged_tune_plan_is_read_or_refused_in_one_line(tmp_path, data):
    from derl_core.tune import read_plan
    how = data.draw(damage(TUNE_PLAN))
    where = Path(tempfile.mkdtemp(dir=tmp_path))
    (where / "tune.json").write_text(damaged_text(TUNE_PLAN, *how))
    try:
        plan = read_plan(str(where))
    except BadInput as exc:
        refused_in_one_line(exc, "tune.json")
        return
    for key in ("trials", "seeds", "seed", "parallel", "total_steps"):
        assert isinstance(plan[key], int) and not isinstance(plan[key], bool) and plan[key] >= 0
    assert plan["seed"] < 2**32 and min(plan["trials"], plan["seeds"], plan["parallel"]) >= 1


PRESET = {"algorithm": "ppo", "env_id": "CartPole-v1", "hyperparameters": {"gamma": 0.98, "nsteps": 64,
                                                                          "net_arch": "64,64"}}


@seed(20261207)
@SAMPLED
@given(data=st.data())
def test_damaged_preset_file_resolves_or_is_refused_in_one_line(tmp_path, data):
    how = data.draw(damage(PRESET))
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "preset.json"
    path.write_text(damaged_text(PRESET, *how))
    reg = registry()
    try:
        preset.resolve(reg.algorithm("ppo"), reg, "CartPole-v1", {}, str(path))
    except BadInput as exc:
        refused_in_one_line(exc, path.name)


# --------------------------------------------------------------------------------------- the command line
@pytest.mark.parametrize("name, raw", [("sweep.json", "[" * 300 + "]" * 300), ("sweep.json", "NaN"),
                                       ("tune.json", "{\"trials\": 1e400}"), ("tune.json", "9" * 5000)])
def test_resume_of_a_damaged_plan_is_one_line_exit_2(tmp_path, name, raw):
    (tmp_path / name).write_text(raw)
    before = sorted(os.listdir(tmp_path))
    one_line_exit_2(invoke(["resume", tmp_path]))
    assert sorted(os.listdir(tmp_path)) == before


def write_tune(where, study_bytes=None):
    where.mkdir()
    (where / "tune.json").write_text(json.dumps(TUNE_PLAN))
    if study_bytes is not None:
        (where / "study.db").write_bytes(study_bytes)


def test_a_study_database_that_is_not_one_is_one_line_exit_2(tmp_path):
    write_tune(tmp_path / "t", os.urandom(4096))
    result = invoke(["resume", tmp_path / "t"])
    one_line_exit_2(result)
    assert "study database" in result.stderr and "study.db" in result.stderr


def test_a_study_of_another_search_is_refused_not_mixed_in(tmp_path):
    """A study.db copied from another tune (its trials searched other parameters): derl would otherwise write
    those parameters into preset.json as if they were hyperparameters."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    write_tune(tmp_path / "t")
    study = optuna.create_study(study_name="derl", storage=f"sqlite:///{tmp_path / 't' / 'study.db'}",
                                direction="maximize")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    before = (tmp_path / "t" / "study.db").read_bytes()
    result = invoke(["resume", tmp_path / "t"])
    one_line_exit_2(result)
    assert "another search" in result.stderr and "x" in result.stderr
    assert (tmp_path / "t" / "study.db").read_bytes() == before and not (tmp_path / "t" / "preset.json").exists()


@seed(20261207)
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["format", "step", "algorithm", "alg", "summary", "rng"]),
       value=st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=4),
                       st.just([]), st.just({})))
def test_checkpoint_metadata_is_checked_by_type_and_range(tiny_run, tmp_path, key, value):
    """A checkpoint whose checksum is right (derl wrote it) but whose metadata is not what derl writes: loaded
    as derl wrote it or refused in one line naming the checkpoint, never passed on."""
    from derl_core.run import checkpoint as ckpt
    run = Path(tempfile.mkdtemp(dir=tmp_path))
    state = ckpt.load(ckpt.list_checkpoints(str(tiny_run))[-1])
    state[key] = value
    path = ckpt.save(str(run), state, 256, keep=10)
    try:
        loaded = ckpt.load(path)
    except BadInput as exc:
        refused_in_one_line(exc, os.path.basename(path))
        return
    assert isinstance(loaded["step"], int) and not isinstance(loaded["step"], bool) and 0 <= loaded["step"] <= 2**62
    assert all(isinstance(loaded[k], dict) for k in ("alg", "summary", "rng"))
