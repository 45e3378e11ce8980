"""Per-env presets (derl_core.preset): a plugin's tuned settings per env id beside its family defaults, --preset
none|FILE, where each value came from in config.json and in `derl ALG -h --env-id ID`, damaged preset files
one line and exit 2 before any run directory exists."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derl_core import config, train
from derl_core.plugins import registry
from derl_core.preset import preset_for, resolve

from .conftest import run_derl


def test_ppo_halfcheetah_takes_its_preset_and_none_the_family():
    reg = registry()
    spec = reg.algorithm("ppo")
    hparams, sources = resolve(spec, reg, "HalfCheetah-v5", {})
    assert (hparams["num_epochs"], hparams["net_arch"], hparams["log_std_init"]) == (20, "256,256", -2.0)
    assert sources["num_epochs"] == "preset" and sources["total_steps"] == "family" and sources["adam_eps"] == "default"
    family, family_sources = resolve(spec, reg, "HalfCheetah-v5", {}, "none")
    assert family == config.resolve(spec, reg.defaults_chain("mujoco"), {})
    assert "preset" not in family_sources.values()
    flagged, flag_sources = resolve(spec, reg, "HalfCheetah-v5", {"num_epochs": "3"})
    assert flagged["num_epochs"] == 3 and flag_sources["num_epochs"] == "flag" and flagged["nsteps"] == 512


def test_an_env_without_a_preset_is_the_family():
    reg = registry()
    assert preset_for(reg.algorithm("ppo"), "Hopper-v5", "auto") == ({}, None)


def test_config_json_records_where_each_value_came_from(tmp_path):
    train("ppo", "CartPole-v1", total_steps=256, nsteps=32, logdir=str(tmp_path / "r"))
    config_json = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config_json["sources"]["nsteps"] == "flag" and config_json["sources"]["gamma"] == "family"
    assert config_json["run"]["preset"] == "auto"


def test_help_with_an_env_id_shows_each_source():
    res = run_derl(["ppo", "-h", "--env-id", "HalfCheetah-v5", "--gamma", "0.9"])
    assert res.returncode == 0, res.stderr
    assert "--num-epochs INT = 20  (preset)" in res.stdout and "--gamma FLOAT = 0.9  (flag)" in res.stdout
    assert "--total-steps INT = 1000000  (family)" in res.stdout
    res = run_derl(["ppo", "-h", "--env-id", "HalfCheetah-v5", "--preset", "none"])
    assert "--num-epochs INT = 10  (family)" in res.stdout


def write(tmp_path, text) -> str:
    path = tmp_path / "preset.json"
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    return str(path)


@pytest.mark.parametrize("text, says", [
    ('{"hyperparameters": {"gamma": 2}}', "--gamma must be in"),
    ('{"hyperparameters": {"gamma": "x"}}', "--gamma expects float"),
    ('{"hyperparameters": {"gama": 0.9}}', "unknown hyperparameter --gama"),
    ('{"algorithm": "dqn", "hyperparameters": {}}', "is for algorithm 'dqn'"),
    ('{"hyperparameters": {"gamma": NaN}}', "not valid JSON"),
    ('{"hyperparameters": [1]}', "should hold"),
    ('[' * 5000 + ']' * 5000, "nested"),
    (b"\xff\xfe", "not UTF-8"),
    (b"", "not valid JSON"),
    ('{"hyperparameters": {"nsteps": ' + "9" * 5000 + "}}", "not valid JSON"),
    ('{"hyperparameters": {"num_envs": 1e400}}', "not valid JSON"),
    ('{"hyperparameters": {"net_arch": {"a": 1}}}', "should be a number"),
])
def test_damaged_preset_files_are_one_line_exit_2_no_run_dir(tmp_path, text, says):
    res = run_derl(["ppo", "--env-id", "CartPole-v1", "--preset", write(tmp_path, text), "--logdir", tmp_path / "r"])
    assert res.returncode == 2 and says in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=3), max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(["gamma", "nsteps", "net_arch", "anneal_lr", "nope", "clip_obs"]),
                              json_values, max_size=4))
def test_any_preset_file_resolves_or_is_one_bad_input(tmp_path, values):
    """Generated presets (every JSON type per field): either they resolve to checked values or they are a
    BadInput naming the preset, never another exception."""
    from derl_core.errors import BadInput
    reg = registry()
    path = write(tmp_path, json.dumps({"hyperparameters": values}))
    try:
        hparams, sources = resolve(reg.algorithm("ppo"), reg, "CartPole-v1", {}, path)
    except BadInput as exc:
        assert "\n" not in str(exc)
        return
    for name in values:
        assert sources[name] == "preset" and name in hparams


def test_a_spec_with_bad_presets_is_a_broken_plugin():
    from derl_core.spec import AlgorithmSpec, spec_problem
    spec = AlgorithmSpec("x", "x", "m:F", [], api_version=2, presets={"CartPole-v1": [1]})
    assert "presets" in spec_problem(spec)
