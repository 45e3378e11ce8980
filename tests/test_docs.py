"""docs/your-env.md cannot rot: every block in it runs, in order, in an empty folder, as a newcomer would."""
import os
import re
import subprocess
import sys

from .conftest import ROOT

BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)


def test_your_env_tutorial_runs_as_written(tmp_path):
    with open(os.path.join(ROOT, "docs", "your-env.md")) as f:
        blocks = BLOCK.findall(f.read())
    assert [lang for lang, _, _ in blocks] == ["python", "bash", "bash", "python", "bash", "python", "python"], blocks
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    env.pop("PYTHONPATH", None)
    for lang, info, body in blocks:
        target = re.search(r"file=(\S+)", info)
        if target:
            (tmp_path / target.group(1)).write_text(body)
            continue
        if lang == "bash":
            for line in body.strip().splitlines():
                out = subprocess.run(line, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True)
                assert out.returncode == 0, (line, out.stdout[-2000:], out.stderr[-2000:])
        else:
            out = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True)
            assert out.returncode == 0, (body, out.stdout[-2000:], out.stderr[-2000:])
            assert "return 5.0" in out.stdout
