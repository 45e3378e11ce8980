import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DERL = os.path.join(os.path.dirname(sys.executable), "derl")


def pip_site(tmp_path_factory, *packages) -> str:
    """`packages` (folders with a pyproject.toml), really pip-installed into a folder to put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), *[os.path.join(ROOT, p) for p in packages]],
                   check=True, capture_output=True)
    return str(target)


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory):
    """The derl-hello test plugin, really pip-installed (into a folder put on PYTHONPATH)."""
    return pip_site(tmp_path_factory, "tests/plugins/derl_hello")


@pytest.fixture(scope="session")
def unruly_site(tmp_path_factory):
    """derl-unruly: one misbehaving plugin per entry point."""
    return pip_site(tmp_path_factory, "tests/plugins/derl_unruly")


def run_derl(args, env_extra=None, cwd=None, **kwargs):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([DERL, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, **kwargs)
