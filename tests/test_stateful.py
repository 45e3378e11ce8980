"""A Hypothesis state machine over one run directory (issue 20): random sequences of resume, eval, kill -9 at
a random moment, two resumes at once, and damage (truncate, flip bits, a symlink, a FIFO, a directory or a
foreign file in a checkpoint's place, an edited config value), with the invariants checked after every step:
nothing outside the run directory written or deleted, no intact checkpoint lost by derl, metrics in step
order, every failure one line with exit 1 or 2 (never a traceback, never a hang)."""
import json
import os
import shutil
import signal
import subprocess
import time

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from derl_core.run import checkpoint as ckpt
from derl_core.testing import invoke

from .conftest import DERL

BASE = {}


def intact(run) -> set:
    """Steps of the checkpoints that load (in checkpoints/ and moved aside in superseded/)."""
    out = set()
    for folder in (run / "checkpoints", run / "checkpoints" / "superseded"):
        if not folder.is_dir() or folder.is_symlink():
            continue
        for name in os.listdir(folder):
            path = folder / name
            if path.is_symlink() or not path.is_file() or not name.endswith(".pt"):
                continue
            try:
                out.add(ckpt.load(str(path))["step"])
            except Exception:
                pass
    return out


def outside(arena) -> dict:
    return {p: (arena / p).read_bytes() if (arena / p).is_file() else None for p in os.listdir(arena) if p != "run"}


class RunDirectory(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.arena = self.run = None

    @initialize()
    def start(self):
        import tempfile
        self.arena = __import__("pathlib").Path(tempfile.mkdtemp(prefix="derl-stateful-"))
        (self.arena / "victim.txt").write_text("the user's file")
        if "run" not in BASE:
            base = self.arena.parent / f"derl-stateful-base-{os.getpid()}"
            if not base.exists():
                assert invoke(["ppo", "--env-id", "CartPole-v1", "--total-steps", 768, "--checkpoint-every", 256,
                               "--logdir", base]).exit_code == 0
            BASE["run"] = base
        self.run = self.arena / "run"
        shutil.copytree(BASE["run"], self.run)
        self.before = outside(self.arena)
        self.good = intact(self.run)
        self.total = 768

    def teardown(self):
        if self.arena is not None:
            shutil.rmtree(self.arena, ignore_errors=True)

    def check(self, code, stderr):
        lines = stderr.strip().splitlines()
        assert code in (0, 1, 2, 130, 143) or code < 0, (code, stderr)
        if code in (1, 2):
            assert len(lines) == 1 and lines[0].startswith("derl:") and "Traceback" not in stderr, stderr
        assert "Traceback" not in stderr, stderr

    # ---- what a user does
    @rule(more=st.sampled_from([256, 512]))
    def resume(self, more):
        self.total += more
        result = invoke(["resume", self.run, "--total-steps", self.total])
        self.check(result.exit_code, result.stderr)

    @rule()
    def evaluate(self):
        result = invoke(["eval", self.run, "--episodes", 1])
        self.check(result.exit_code, result.stderr)

    @rule(after=st.floats(0.5, 4.0))
    def kill_9(self, after):
        self.total += 4096
        proc = subprocess.Popen([DERL, "resume", str(self.run), "--total-steps", str(self.total)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(after)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)

    @rule()
    def two_resumes_at_once(self):
        self.total += 512
        procs = [subprocess.Popen([DERL, "resume", str(self.run), "--total-steps", str(self.total)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            self.check(p.returncode, err)

    # ---- what goes wrong
    @rule(how=st.sampled_from(["truncate", "flip", "symlink", "fifo", "directory", "foreign", "config"]),
          pick=st.integers(0, 100))
    def damage(self, how, pick):
        folder = self.run / "checkpoints"
        names = sorted(n for n in os.listdir(folder) if n.startswith("ckpt_")) if folder.is_dir() else []
        if how == "config":
            path = self.run / "config.json"
            data = json.loads(path.read_text())
            key = sorted(data["run"])[pick % len(data["run"])]
            data["run"][key] = [None, -1, 2**40, "x", True][pick % 5]
            path.write_text(json.dumps(data))
            return
        if how == "foreign":
            (folder / "ckpt_999999999999.pt").write_bytes(b"not derl's")
            return
        if not names:
            return
        victim = folder / names[pick % len(names)]
        if victim.is_dir() or victim.is_symlink() or not victim.is_file():
            return
        if how == "truncate":
            victim.write_bytes(victim.read_bytes()[: max(1, len(victim.read_bytes()) // 2)])
        elif how == "flip":
            data = bytearray(victim.read_bytes())
            data[len(data) // 2] ^= 0xFF
            victim.write_bytes(bytes(data))
        else:
            victim.unlink()
            if how == "symlink":
                victim.symlink_to(self.arena / "victim.txt")
            elif how == "fifo":
                os.mkfifo(victim)
            else:
                victim.mkdir()
        self.good = intact(self.run)   # what the damage left; derl must lose none of it

    # ---- after every step
    @invariant()
    def nothing_outside_changed(self):
        if self.arena is not None:
            assert outside(self.arena) == self.before

    @invariant()
    def no_intact_checkpoint_lost(self):
        if self.run is None:
            return
        now = intact(self.run)
        if self.good:   # pruning keeps the newest, moving aside keeps them: the newest good one survives
            assert max(self.good) in now or max(now, default=-1) > max(self.good), (self.good, now)
        self.good = now

    @invariant()
    def metrics_in_step_order(self):
        if self.run is None:
            return
        path = self.run / "metrics.jsonl"
        if path.is_file() and not path.is_symlink():
            steps = [json.loads(line)["step"] for line in path.read_text().splitlines() if line.strip()
                     and line.startswith("{")]
            assert steps == sorted(steps)


RunDirectory.TestCase.settings = settings(max_examples=4, stateful_step_count=6, deadline=None, database=None,
                                          suppress_health_check=list(HealthCheck))
test_run_directory_state_machine = RunDirectory.TestCase
