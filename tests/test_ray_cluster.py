"""--ray-address against a real Ray cluster of two nodes on this machine (a head and a second node, each a
raylet of its own: ray.cluster_utils.Cluster, what Ray's own multi-node tests use): the env workers spread over
both nodes, the run trains, resumes and evaluates like a local one, and the cluster is left running (derl only
stops a Ray it started). A sweep and a tune spread over both nodes lose the second one mid-way: every run and
trial still finishes, once, continued from its checkpoints on the node left."""
import json
import os
import subprocess
import time

import pytest

from derl_core.run import checkpoint as ckpt
from derl_core.run.rundir import read_metrics

from .conftest import DERL, run_derl

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)   # each env worker takes half a CPU: four of them need both nodes
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def test_workers_on_two_nodes_train_resume_and_evaluate(cluster, tmp_path):
    run = tmp_path / "r"
    args = ["ppo", "--env-id", "CartPole-v1", "--workers", "4", "--envs-per-worker", "1", "--total-steps", "512",
            "--nsteps", "32", "--ray-address", cluster.address, "--logdir", run]
    out = run_derl(args, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"4 Ray env workers on 2 node(s) of {cluster.address}" in out.stdout
    out = run_derl(["resume", run, "--total-steps", "768"], timeout=600)   # the address is part of the run
    assert out.returncode == 0, out.stderr[-2000:]
    assert run_derl(["eval", run, "--episodes", "2"], timeout=300).returncode == 0
    ray.init(address=cluster.address, ignore_reinit_error=True)
    try:
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2   # derl left the cluster it joined running
    finally:
        ray.shutdown()


def lose_second_node_mid_way(args, where, started, minutes=8):
    """Runs `derl ARGS` against a fresh cluster of a head (1 CPU) and a second node (2 CPUs); once `started()`
    says three tasks run at once (so two of them on the second node), removes the second node (its raylet and
    workers killed). Returns the finished process's (returncode, stdout, stderr)."""
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    second = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    try:
        proc = subprocess.Popen([DERL, *map(str, args), "--ray-address", cluster.address, "--logdir", str(where)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and not started():
            time.sleep(0.2)
        assert proc.poll() is None and started(), "the three tasks never ran at once"
        cluster.remove_node(second)   # mid-way: the runs on it have made their run directories
        out, err = proc.communicate(timeout=minutes * 60)
        return proc.returncode, out, err
    finally:
        cluster.shutdown()


def finished_once(run_dir, total):
    """A run that reached `total` and whose metrics hold each logged step once (a continued run rewrites
    what came after its checkpoint, never appends it twice)."""
    assert ckpt.load(ckpt.list_checkpoints(run_dir)[-1])["step"] >= total
    steps = [r["step"] for r in read_metrics(run_dir) if "charts/episodic_return" in r]
    updates = [r["step"] for r in read_metrics(run_dir) if "losses/value_loss" in r]
    assert updates == sorted(set(updates)) and steps == sorted(steps), run_dir
    assert updates[-1] >= total - 256


def test_a_sweep_loses_a_node_mid_way_and_every_run_finishes_once(tmp_path):
    sweep, total = tmp_path / "sw", 24_576
    runs = lambda: [d for d in sweep.glob("*__seed=*") if (d / "config.json").exists()]   # noqa: E731
    code, out, err = lose_second_node_mid_way(
        ["sweep", "ppo", "--env-id", "CartPole-v1", "--seeds", "0-2", "--total-steps", total, "--nsteps", 64,
         "--checkpoint-every", 2048, "--max-parallel", 3], sweep, lambda: len(runs()) == 3)
    assert code == 0, (out[-1000:], err[-2000:])
    assert len(runs()) == 3
    for d in runs():
        finished_once(d, total)
    rows = json.loads((sweep / "results.json").read_text())
    assert [len(r["final_returns"]) for r in rows] == [3]


def test_a_tune_loses_a_node_mid_way_and_every_trial_finishes_once(tmp_path):
    tune, total = tmp_path / "t", 16_384
    runs = lambda: [d for d in tune.glob("trial-*") if (d / "config.json").exists()]   # noqa: E731
    code, out, err = lose_second_node_mid_way(
        ["tune", "ppo", "--env-id", "CartPole-v1", "--trials", 3, "--parallel", 3, "--total-steps", total,
         "--nsteps", 64, "--search", "learning-rate=log:1e-4:1e-3"], tune, lambda: len(runs()) == 3)
    assert code == 0, (out[-1000:], err[-2000:])
    results = json.loads((tune / "results.json").read_text())
    trials = results["trials"] if isinstance(results, dict) else results
    assert sorted(t["trial"] for t in trials) == [0, 1, 2], trials       # three trials, each once
    assert all(t["state"] in ("complete", "pruned") for t in trials), trials
    for d in runs():
        if not any(t["trial"] == int(d.name[6:10]) and t["state"] == "pruned" for t in trials):
            finished_once(d, total)
