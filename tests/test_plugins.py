import json

from derl_core.plugins import build_registry
from derl_core.spec import AlgorithmSpec

from .conftest import run_derl


class FakeDist:
    def __init__(self, name):
        self.name, self.version = name, "1.0"


class FakeEntryPoint:
    def __init__(self, name, dist, module=None, error=None):
        self.name, self.dist, self._module, self._error = name, FakeDist(dist), module, error

    def load(self):
        if self._error:
            raise self._error
        return self._module


def algorithm_module(name):
    import types

    from derl_core import hookimpl
    mod = types.ModuleType(f"fake_{name}")

    @hookimpl
    def derl_register_algorithms(register):
        register(AlgorithmSpec(name=name, summary="fake", factory="x:y", hyperparameters=[]))
    mod.derl_register_algorithms = derl_register_algorithms
    return mod


def test_discovery_of_installed_plugins():
    from derl_core.plugins import registry
    reg = registry()
    assert reg.algorithms["ppo"].distribution == "derl-ppo"
    assert reg.families["atari"].distribution == "derl"


def test_broken_plugin_is_reported_and_others_work():
    reg = build_registry([
        FakeEntryPoint("good", "derl-good", algorithm_module("good")),
        FakeEntryPoint("bad", "derl-bad", error=ImportError("No module named 'missing_dependency'")),
    ])
    assert "good" in reg.algorithms
    (dist, ep, error), = reg.broken
    assert dist == "derl-bad" and "missing_dependency" in error


def test_duplicate_algorithm_is_refused_and_names_both_distributions():
    reg = build_registry([FakeEntryPoint("a", "derl-one", algorithm_module("same")),
                          FakeEntryPoint("b", "derl-two", algorithm_module("same"))])
    assert reg.algorithms["same"].distribution == "derl-one"
    (dist, ep, error), = reg.broken
    assert dist == "derl-two" and "derl-one and derl-two" in error


def test_pip_installed_third_party_plugin_appears_and_runs(hello_site, tmp_path):
    env = {"PYTHONPATH": hello_site}
    listed = json.loads(run_derl(["list", "--json"], env).stdout)
    hello = next(a for a in listed["algorithms"] if a["name"] == "hello")
    assert hello["distribution"] == "derl-hello"
    (broken,) = [b for b in listed["broken"] if b["entry_point"] == "hello_broken"]
    assert broken["distribution"] == "derl-hello" and "derl_nonexistent_dependency" in broken["error"]
    table = run_derl(["list"], env).stdout
    assert "broken plugins" in table and "hello_broken" in table
    assert any(f["name"] == "corridor" and f["distribution"] == "derl-hello" for f in listed["env_families"])
    out = run_derl(["run", "hello", "--env-id", "Corridor-v0", "--total-steps", "400", "--logdir",
                    tmp_path / "r"], env)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert any("charts/episodic_return" in r for r in rows)
    assert json.loads((tmp_path / "r" / "config.json").read_text())["family"] == "corridor"
    # the shorthand works too
    out = run_derl(["hello", "--env-id", "CartPole-v1", "--total-steps", "100", "--logdir", tmp_path / "s"], env)
    assert out.returncode == 0, out.stderr
