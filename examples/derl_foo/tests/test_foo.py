from derl_core.testing import check_plugin, learning_run


def test_foo_keeps_derls_contract(tmp_path):
    check_plugin("foo", "CartPole-v1", {"total_steps": 1024, "num_envs": 2, "nsteps": 32}, tmp_path,
                 summaries={"losses/policy_loss", "losses/value_loss"})


def test_foo_learns_cartpole(tmp_path):
    returns = learning_run("foo", "CartPole-v1", tmp_path / "r", total_steps=30_000)
    assert sum(returns[-10:]) / 10 > 2 * sum(returns[:10]) / 10, returns
