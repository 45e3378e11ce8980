import json
import os

from derl_core.plugins import build_registry
from derl_core.spec import AlgorithmSpec

from .conftest import ROOT, run_derl


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
        register(AlgorithmSpec(name=name, summary="fake", factory="x:y", hyperparameters=[], api_version=2))
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


# ------------------------------------------------------------------------------------------ plugin API versions
def test_a_plugin_written_for_the_previous_api_gets_one_line_naming_the_move(tmp_path_factory, tmp_path):
    """derl-oldapi is derl-reinforce exactly as written for plugin API 1 (derl 0.2): it is listed as broken,
    and running it is one line naming both versions and the migration section, never an AttributeError."""
    from .conftest import pip_site
    env = {"PYTHONPATH": pip_site(tmp_path_factory, "tests/plugins/derl_oldapi")}
    listed = json.loads(run_derl(["list", "--json"], env).stdout)
    broken = [b for b in listed["broken"] if b["distribution"] == "derl-oldapi"]
    assert broken and "plugin API 1" in broken[0]["error"] and "API 3" in broken[0]["error"], listed["broken"]
    assert "ppo" in {a["name"] for a in listed["algorithms"]}   # the rest of derl is unharmed
    out = run_derl(["run", "oldreinforce", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r"], env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1, out.stderr
    assert "written for derl's plugin API 1" in lines[0] and "Migrating from plugin API 1" in lines[0], lines
    assert "AttributeError" not in out.stderr and not (tmp_path / "r").exists()
    with open(os.path.join(ROOT, "docs", "plugins.md")) as f:
        assert "## Migrating from plugin API 1" in f.read()


def test_api_mismatch_is_checked_for_algorithms_and_accepted_for_unchanged_families():
    from derl_core.spec import PLUGIN_API, api_problem
    assert api_problem("algorithm", "x", PLUGIN_API, (PLUGIN_API,)) is None
    assert "plugin API 1" in api_problem("algorithm", "x", 1, (PLUGIN_API,))
    assert "plugin API 99" in api_problem("algorithm", "x", 99, (PLUGIN_API,))
    reg = build_registry([FakeEntryPoint("fam", "derl-fam", family_module_api(1))])
    assert "old" in reg.families and not reg.broken


def family_module_api(version):
    import types

    from derl_core import EnvFamilySpec, hookimpl
    mod = types.ModuleType("fake_family")

    @hookimpl
    def derl_register_env_families(register):
        register(EnvFamilySpec("old", "a family for API 1", lambda env_id: False, "derl_core.env.classic",
                               api_version=version))
    mod.derl_register_env_families = derl_register_env_families
    return mod


def encoder_module(name, target="tests.own_models:encoder_without_batch", api_version=3):
    import types

    from derl_core import EncoderSpec, hookimpl
    mod = types.ModuleType(f"fake_enc_{name}")

    @hookimpl
    def derl_register_encoders(register):
        register(EncoderSpec(name=name, summary="fake encoder", target=target, api_version=api_version))
    mod.derl_register_encoders = derl_register_encoders
    return mod


def test_image_encoders_register_through_their_hook_and_bad_ones_are_reported():
    reg = build_registry([FakeEntryPoint("a", "derl-enc", encoder_module("mine")),
                          FakeEntryPoint("n", "derl-nat", encoder_module("nature")),        # derl's own name
                          FakeEntryPoint("t", "derl-tgt", encoder_module("other", target="no_colon")),
                          FakeEntryPoint("o", "derl-old", encoder_module("old", api_version=2)),
                          FakeEntryPoint("z", "derl-dup", encoder_module("mine"))])
    assert list(reg.encoders) == ["mine"] and reg.encoders["mine"].distribution == "derl-enc"
    errors = {dist: error for dist, _, error in reg.broken}
    assert "derl's own" in errors["derl-nat"] and "target" in errors["derl-tgt"]
    assert "plugin API 2" in errors["derl-old"] and "derl-enc" in errors["derl-dup"]


def test_an_encoder_that_breaks_its_contract_is_one_line_before_any_run_directory(tmp_path):
    """Its module's output has no batch axis: refused when the network is built, naming the encoder."""
    from derl_core.plugins import registry
    from derl_core.spec import EncoderSpec
    from derl_core.testing import invoke
    import gymnasium as gym
    import numpy as np
    from derl_core.testing import spaces_env_id
    reg = registry()
    reg.encoders["sums"] = EncoderSpec("sums", "breaks the contract", "tests.own_models:encoder_without_batch")
    try:
        env_id = spaces_env_id(gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), gym.spaces.Discrete(2))
        result = invoke(["ppo", "--env-id", env_id, "--encoder", "sums", "--total-steps", 32, "--num-envs", 1,
                         "--nsteps", 16, "--logdir", tmp_path / "r"])
    finally:
        del reg.encoders["sums"]
    assert result.exit_code == 2 and "--encoder sums" in result.stderr and "(N, features)" in result.stderr, \
        result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()
