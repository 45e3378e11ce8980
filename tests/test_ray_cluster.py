"""--ray-address against a real Ray cluster of two nodes on this machine (a head and a second node, each a
raylet of its own: ray.cluster_utils.Cluster, what Ray's own multi-node tests use): the env workers spread over
both nodes, the run trains, resumes and evaluates like a local one, and the cluster is left running (derl only
stops a Ray it started)."""
import pytest

from .conftest import run_derl

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
