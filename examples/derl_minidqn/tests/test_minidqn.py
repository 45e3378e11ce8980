import numpy as np

from derl_core.testing import check_plugin, learning_run


def test_minidqn_keeps_derls_contract(tmp_path):
    check_plugin("minidqn", "CartPole-v1", {"total_steps": 600, "learning_starts": 100, "target_every": 20},
                 tmp_path, summaries={"losses/td_loss", "losses/q_values"})


def test_minidqn_learns_cartpole(tmp_path):
    returns = learning_run("minidqn", "CartPole-v1", tmp_path / "r", total_steps=20_000)
    assert np.mean(returns[-10:]) > 2 * np.mean(returns[:10]), returns
