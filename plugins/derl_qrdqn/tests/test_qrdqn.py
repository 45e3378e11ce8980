import numpy as np
import torch

from derl_core.rl.replay import ReplayBatch
from derl_core.testing import check_plugin, invoke, learning_run


def test_qrdqn_keeps_derls_contract(tmp_path):
    check_plugin("qrdqn", "CartPole-v1", {"total_steps": 600, "learning_starts": 100, "train_every": 4,
                                          "gradient_steps": 1}, tmp_path, summaries={"losses/quantile_loss"},
                 learns=False)


def test_the_quantile_loss_learns_the_quantiles_of_a_return_distribution():
    """One state, one action, a return drawn from {0, 10} with p = 0.3 for 10 (terminal: no bootstrap): the N
    quantiles (midpoints tau_i) converge to the distribution's tau-quantiles, 0 below 0.7 and 10 above (outside
    the Huber loss's quadratic band of 1, where quantile regression would become an expectile's)."""
    import gymnasium as gym
    from derl_qrdqn.qrdqn import QuantileHuberLoss, QuantileNetwork
    torch.manual_seed(0)
    net = QuantileNetwork(gym.spaces.Box(-1, 1, (1,), np.float32), 1, 10, hidden=(16,))
    loss = QuantileHuberLoss(net, net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(1500):
        rewards = torch.as_tensor(10 * (rng.random(256) < 0.3).astype(np.float32))
        batch = ReplayBatch(torch.zeros(256, 1), torch.zeros(256, dtype=torch.long), rewards, torch.zeros(256),
                            torch.zeros(256, 1), None)
        value, _ = loss(batch)
        opt.zero_grad()
        value.backward()
        opt.step()
    q = net.quantiles(torch.zeros(1, 1))[0, 0].detach().numpy()
    taus = (np.arange(10) + 0.5) / 10
    assert np.all(np.abs(q[taus < 0.65]) < 1) and np.all(np.abs(q[taus > 0.75] - 10) < 1), q
    assert np.all(np.diff(q) > -0.5)   # ordered, as quantiles are


def test_qrdqn_has_no_dueling_or_noisy_heads():
    result = invoke(["qrdqn", "--env-id", "CartPole-v1", "--dueling"])
    assert result.exit_code == 2 and "--dueling" in result.stderr


def test_qrdqn_learns_cartpole(tmp_path):
    returns = learning_run("qrdqn", "CartPole-v1", tmp_path / "r", total_steps=20_000)
    assert np.mean(returns[-10:]) > 2 * np.mean(returns[:10]), returns
