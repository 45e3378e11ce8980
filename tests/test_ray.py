"""Experience from Ray actors and sweeps, against a real local Ray (the machine's CPUs: 2 in CI)."""
import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from derl_core.run import checkpoint as ckpt
from derl_core.testing import read_metrics

from .conftest import DERL, run_derl

pytest.importorskip("ray")


def returns(run):
    return [r["charts/episodic_return"] for r in read_metrics(run) if "charts/episodic_return" in r]


@pytest.mark.slow
def test_ppo_with_2_workers_x_4_envs_reaches_the_local_8_env_threshold(tmp_path):
    """test_ppo's threshold (475 over the last 100 episodes within the classic budget), from Ray actors."""
    out = run_derl(["ppo", "--env-id", "CartPole-v1", "--seed", "1", "--workers", "2", "--envs-per-worker", "4",
                    "--logdir", tmp_path / "r"], timeout=600)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    record = json.loads((tmp_path / "r" / "config.json").read_text())
    assert record["hyperparameters"]["num_envs"] == 8 and record["run"]["workers"] == 2
    assert np.mean(returns(tmp_path / "r")[-100:]) >= 475
    assert os.listdir(tmp_path / "r" / "ray-logs")   # Ray's logs end up in the run directory


@pytest.mark.slow
def test_sac_with_2_workers_learns_pendulum(tmp_path):
    out = run_derl(["sac", "--env-id", "Pendulum-v1", "--seed", "1", "--workers", "2", "--total-steps", "4000",
                    "--train-every", "16", "--gradient-steps", "32", "--net-arch", "64,64", "--logdir",
                    tmp_path / "r"], timeout=600)
    assert out.returncode == 0, out.stderr
    got = returns(tmp_path / "r")
    assert np.mean(got[-4:]) >= -600 and np.mean(got[-4:]) > np.mean(got[:4]) + 300, got


def test_same_seed_same_metrics_with_a_fixed_number_of_workers(tmp_path):
    args = ["ppo", "--env-id", "CartPole-v1", "--workers", "2", "--envs-per-worker", "2", "--total-steps", "1024",
            "--seed", "5"]
    for name in ("a", "b"):
        assert run_derl([*args, "--logdir", tmp_path / name]).returncode == 0
    assert (tmp_path / "a" / "metrics.jsonl").read_text() == (tmp_path / "b" / "metrics.jsonl").read_text()
    out = run_derl(["resume", tmp_path / "a", "--total-steps", "2048"])   # a Ray run resumes like a local one
    assert out.returncode == 0, out.stderr
    assert ckpt.load(ckpt.list_checkpoints(tmp_path / "a")[-1])["step"] == 2048


def env_workers_of(root: int) -> list[int]:
    """The Ray env workers descended from process `root` (its raylet's children), oldest first. A bare
    `pgrep -f ray::EnvWorker` also finds the workers an earlier test's Ray leaves behind while it shuts down."""
    rows = [line.split(None, 2) for line in subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True,
                                                           text=True).stdout.splitlines()]
    parent = {int(r[0]): int(r[1]) for r in rows}

    def descends(pid):
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == root:
                return True
        return False
    return sorted(int(r[0]) for r in rows if len(r) == 3 and r[2].startswith("ray::EnvWorker") and descends(int(r[0])))


def test_a_killed_worker_is_replaced_and_the_run_finishes(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.Popen([DERL, "ppo", "--env-id", "CartPole-v1", "--workers", "2", "--envs-per-worker", "4",
                             "--total-steps", "30000", "--logdir", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.2)
    time.sleep(1.0)
    pids = env_workers_of(proc.pid)
    assert pids, "no Ray env worker found"
    os.kill(int(pids[0]), signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    restarts = [r["charts/worker_restarts"] for r in read_metrics(run) if "charts/worker_restarts" in r]
    assert restarts and restarts[-1] >= 1
    assert ckpt.load(ckpt.list_checkpoints(run)[-1])["step"] >= 30000


def test_a_restart_found_while_a_checkpoint_is_written_is_recorded():
    """A worker killed between rollouts is found by the checkpoint's state_dict, not by a rollout; its restart
    is a charts/worker_restarts scalar all the same (it used to be counted and never written), and
    a restart is found both when the dead actor answers and when Ray brought it back before it was asked."""
    import ray

    from derl_core.rl.rollout import EnvRunner
    from derl_core.run.distributed import RemoteEnvs

    class Scalars:
        def __init__(self):
            self.rows = []

        def scalar(self, tag, value, step):
            self.rows.append((tag, value, step))

    envs = RemoteEnvs("CartPole-v1", workers=1, envs_per_worker=1, seed=0)
    try:
        summary = Scalars()
        runner = EnvRunner(envs, policy=None, nsteps=8, summary=summary)
        runner.step_count = 64
        # as after the first rollout: the worker holds a policy (a stand-in: this test never collects)
        envs._policy_ref = ray.put(None)
        ray.get(envs.workers[0].set_policy.remote(envs._policy_ref))
        ray.kill(envs.workers[0], no_restart=False)   # Ray restarts it, as after a SIGKILL
        time.sleep(2.0)   # whether Ray has restarted it before the checkpoint asks, or not, the kill is found
        assert len(envs.state_dict()["workers"]) == 1
        assert envs.restarts == 1 and summary.rows == [("charts/worker_restarts", 1, 64)]
    finally:
        envs.close()


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be in [1, 4096]"),
    (["--envs-per-worker", "2"], "--envs-per-worker and --ray-address need --workers N"),
    (["--workers", "2", "--envs-per-worker", "2", "--num-envs", "8"], "--num-envs 8 is not --workers 2 x"),
])
def test_bad_worker_options_are_one_line(args, message, tmp_path):
    out = run_derl(["ppo", "--env-id", "CartPole-v1", *args, "--logdir", tmp_path / "r"])
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert not (tmp_path / "r").exists()


SWEEP = ["sweep", "ppo", "--env-id", "CartPole-v1", "--seeds", "0-1", "--set", "learning-rate=1e-3,3e-4"]


def test_sweep_of_2_seeds_x_2_learning_rates(tmp_path):
    out = run_derl([*SWEEP, "--total-steps", "2048", "--logdir", tmp_path / "sw"], timeout=600)
    assert out.returncode == 0, out.stderr
    names = sorted(os.listdir(tmp_path / "sw"))
    runs = [n for n in names if "__seed=" in n]
    assert runs == ["learning_rate=1e-3__seed=0", "learning_rate=1e-3__seed=1", "learning_rate=3e-4__seed=0",
                    "learning_rate=3e-4__seed=1"]
    for name in runs:
        cfg = json.loads((tmp_path / "sw" / name / "config.json").read_text())
        assert cfg["hyperparameters"]["learning_rate"] == float(name.split("=")[1].split("__")[0])
        assert ckpt.load(ckpt.list_checkpoints(tmp_path / "sw" / name)[-1])["step"] >= 2048
    rows = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert [r["combination"] for r in rows] == ["learning_rate=1e-3", "learning_rate=3e-4"]
    assert all(len(r["final_returns"]) == 2 and r["mean"] == r["mean"] for r in rows)
    assert "± " in (tmp_path / "sw" / "results.md").read_text()
    for combo in ("learning_rate=1e-3.png", "learning_rate=3e-4.png"):
        assert (tmp_path / "sw" / combo).read_bytes()[:4] == b"\x89PNG"


def test_an_interrupted_sweep_resumes_keeping_finished_runs(tmp_path):
    sweep = tmp_path / "sw"
    proc = subprocess.Popen([DERL, *SWEEP, "--total-steps", "4096", "--max-parallel", "1", "--logdir", str(sweep)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finished():
        return [d for d in sweep.glob("*__seed=*") if ckpt.list_checkpoints(d)
                and ckpt.list_checkpoints(d)[-1].endswith("000000004096.pt")]
    deadline = time.time() + 300
    while time.time() < deadline and not finished():
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)   # at once: a run finishes in seconds, and a later interrupt may find none left
    out, err = proc.communicate(timeout=60)   # the driver notes the signal and stops within its 1 s wait
    assert proc.returncode == 130 and f"continue with: derl resume {sweep}" in out, (out[-500:], err[-2000:])
    done = {d.name: os.path.getmtime(ckpt.list_checkpoints(d)[-1]) for d in finished()}
    assert 1 <= len(done) < 4
    out = run_derl(["resume", sweep], timeout=600)
    assert out.returncode == 0, out.stderr
    for d in sweep.glob("*__seed=*"):
        assert ckpt.load(ckpt.list_checkpoints(d)[-1])["step"] >= 4096
        if d.name in done:
            assert os.path.getmtime(ckpt.list_checkpoints(d)[-1]) == done[d.name]   # kept, not trained again
    assert len(json.loads((sweep / "results.json").read_text())) == 2


def test_a_sweep_refuses_run_options_it_would_drop(tmp_path):
    out = run_derl([*SWEEP, "--eval-every", "100", "--logdir", tmp_path / "sw"])
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--eval-every is not an option of a sweep" in out.stderr and not (tmp_path / "sw").exists()
