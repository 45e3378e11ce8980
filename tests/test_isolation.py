"""One bad plugin never takes derl down and always names itself: each case of derl-unruly (one misbehaving
entry point each), pip-installed, through the real CLI."""
import json
import os

import pytest

from .conftest import run_derl


@pytest.fixture(scope="module")
def listed(unruly_site):
    out = run_derl(["list", "--json"], {"PYTHONPATH": unruly_site})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)   # prints at import and from hooks did not break the JSON


def broken_entry(listed, entry_point):
    (found,) = [b for b in listed["broken"] if b["entry_point"] == entry_point]
    assert found["distribution"] == "derl-unruly"
    return found["error"]


def test_a_plugin_that_calls_sys_exit_at_import_is_listed_not_fatal(listed):
    assert "sys.exit(3)" in broken_entry(listed, "unruly_exit")


def test_a_plugin_that_prints_and_names_no_hook_arguments_works(listed):
    """Its derl_register_commands() takes none of the hook's arguments: derl passes only those named."""
    assert not [b for b in listed["broken"] if b["entry_point"] == "unruly_print"]


def test_a_plugin_that_registers_then_raises_leaves_nothing_registered(listed, unruly_site, tmp_path):
    assert "half-way registration failed" in broken_entry(listed, "unruly_half")
    assert "half" not in {a["name"] for a in listed["algorithms"]}
    out = run_derl(["run", "half", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r"],
                   {"PYTHONPATH": unruly_site})
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "installed but broken" in out.stderr and "derl-unruly" in out.stderr and "half-way" in out.stderr


def test_a_second_classic_family_is_refused_like_a_duplicate_algorithm(listed, unruly_site, tmp_path):
    error = broken_entry(listed, "unruly_classic")
    assert "env family 'classic' is registered by two distributions: derl and derl-unruly" in error
    assert {f["name"]: f["distribution"] for f in listed["env_families"]}["classic"] == "derl"


def test_a_typo_in_a_family_default_is_reported(listed):
    (problem,) = [p for p in listed["problems"] if "typo" in p["problem"]]
    assert problem["distribution"] == "derl-unruly" and "unknown env family mujuco" in problem["problem"]


def test_a_raising_commands_hook_and_a_raising_matches_leave_every_command_working(unruly_site, tmp_path):
    env = {"PYTHONPATH": unruly_site}
    for args in (["--help"], ["list"], ["ppo", "-h"]):
        out = run_derl(args, env)
        assert out.returncode == 0 and out.stderr == "", (args, out.stderr)
    out = run_derl(["ppo", "--env-id", "CartPole-v1", "--total-steps", "256", "--logdir", tmp_path / "r"], env)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert json.loads((tmp_path / "r" / "config.json").read_text())["family"] == "classic"
    listed = json.loads(run_derl(["list", "--json"], env).stdout)
    assert "commands hook exploded" in broken_entry(listed, "unruly_commands")


@pytest.mark.parametrize("alg, words", [
    ("nowhere", "names a factory 'derl_unruly.no_such_module:Factory' that cannot be loaded"),
    ("undeclared", "needs keyword argument 'momentum'"),
    ("unread", "did not use keyword arguments: learning_rate"),
])
def test_a_wrong_factory_is_one_line_naming_the_plugin_and_leaves_no_run_directory(unruly_site, tmp_path, alg,
                                                                                  words):
    out = run_derl([alg, "--env-id", "CartPole-v1", "--logdir", tmp_path / "r"], {"PYTHONPATH": unruly_site},
                   cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"the {alg} plugin (derl-unruly)" in out.stderr and words in out.stderr
    assert os.listdir(tmp_path) == []


def test_derl_load_plugins_rules_plugins_out_without_uninstalling(unruly_site, hello_site):
    env = {"PYTHONPATH": os.pathsep.join([unruly_site, hello_site]), "DERL_LOAD_PLUGINS": "derl-ppo, derl-hello"}
    listed = json.loads(run_derl(["list", "--json"], env).stdout)
    assert {a["name"] for a in listed["algorithms"]} == {"ppo", "hello"}
    assert {f["name"] for f in listed["env_families"]} >= {"classic", "atari", "corridor"}
    assert not [b for b in listed["broken"] if b["distribution"] == "derl-unruly"]
    assert {"derl-unruly", "derl-dqn"} <= set(listed["not_loaded"])
