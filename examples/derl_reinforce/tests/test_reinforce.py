import numpy as np

from derl_core.testing import check_plugin, learning_run


def test_returns_to_go():
    from derl_reinforce.reinforce import returns_to_go
    np.testing.assert_allclose(returns_to_go(np.array([1.0, 1.0, 1.0]), 0.5), [1.75, 1.5, 1.0])


def test_reinforce_keeps_derls_contract(tmp_path):
    check_plugin("reinforce", "CartPole-v1", {"total_steps": 1024, "num_envs": 2, "min_episodes": 2}, tmp_path,
                 summaries={"losses/policy_loss", "losses/value_loss"})


def test_reinforce_learns_cartpole(tmp_path):
    returns = learning_run("reinforce", "CartPole-v1", tmp_path / "r", total_steps=30_000)
    assert np.mean(returns[-10:]) > 2 * np.mean(returns[:10]), returns
