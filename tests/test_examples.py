"""The three example plugins of docs/plugins.md, really pip-installed, each passing derl's contract kit from
its own test file (as a stranger's plugin would, from its own repository)."""
import os
import subprocess
import sys

import pytest

from .conftest import ROOT, pip_site

EXAMPLES = ["derl_foo", "derl_reinforce", "derl_minidqn"]


@pytest.fixture(scope="module")
def examples_site(tmp_path_factory):
    return pip_site(tmp_path_factory, *[f"examples/{name}" for name in EXAMPLES])


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_plugin_passes_the_contract_kit_from_its_own_tests(name, examples_site, tmp_path):
    env = dict(os.environ, PYTHONPATH=examples_site)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          os.path.join(ROOT, "examples", name, "tests")], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout
