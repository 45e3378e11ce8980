import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DERL = os.path.join(os.path.dirname(sys.executable), "derl")


@pytest.fixture(scope="session")
def hello_site(tmp_path_factory):
    """The derl-hello test plugin, really pip-installed (into a folder put on PYTHONPATH)."""
    target = tmp_path_factory.mktemp("hello-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), os.path.join(ROOT, "tests", "plugins", "derl_hello")],
                   check=True, capture_output=True)
    return str(target)


def run_derl(args, env_extra=None, cwd=None, **kwargs):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([DERL, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, **kwargs)
