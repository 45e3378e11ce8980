import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from derl_core import ReplayBatch
from derl_dqn.dqn import DQNLoss, NoisyLinear, QNetwork


def batch_of(obs, next_obs, actions, rewards, discounts, weights=None):
    return ReplayBatch(torch.tensor(obs, dtype=torch.float32), torch.tensor(actions),
                       torch.tensor(rewards, dtype=torch.float32), torch.tensor(discounts, dtype=torch.float32),
                       torch.tensor(next_obs, dtype=torch.float32), torch.zeros(len(obs), dtype=torch.long),
                       None if weights is None else torch.tensor(weights, dtype=torch.float32))


class TableQ(torch.nn.Module):
    """Q(s) = a row of a table picked by the integer in s[0]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(torch.tensor(table, dtype=torch.float32))

    def forward(self, obs):
        return self.table[obs[:, 0].long()]

    def reset_noise(self):
        pass


def test_double_dqn_target_uses_online_argmax_and_target_value():
    online = TableQ([[0.0, 0.0], [5.0, 1.0]])      # online prefers action 0 in state 1
    target = TableQ([[0.0, 0.0], [2.0, 9.0]])      # target would prefer action 1
    b = batch_of([[0]], [[1]], [1], [1.0], [0.5])
    td_double = DQNLoss(online, target, double=True)(b)[1]["td_errors"]
    td_single = DQNLoss(online, target, double=False)(b)[1]["td_errors"]
    # double: 1 + 0.5 * Q_target(s', argmax_a Q_online(s', a) = 0) = 1 + 0.5 * 2; Q(s, 1) = 0
    assert td_double.item() == pytest.approx(2.0)
    assert td_single.item() == pytest.approx(1 + 0.5 * 9)


def test_importance_weights_scale_each_sample_huber_loss():
    online = TableQ([[0.0, 0.0], [0.0, 0.0]])
    target = TableQ([[0.0, 0.0], [0.0, 0.0]])
    # TD errors 0.5 (quadratic part: 0.125) and 3 (linear part: 2.5)
    b = batch_of([[0], [0]], [[1], [1]], [0, 1], [0.5, 3.0], [0.0, 0.0], weights=[1.0, 0.2])
    loss, _ = DQNLoss(online, target)(b)
    assert loss.item() == pytest.approx((1.0 * 0.125 + 0.2 * 2.5) / 2)


def test_dueling_aggregation():
    net = QNetwork(gym.spaces.Box(-1, 1, (3,), np.float32), 4, dueling=True)
    x = torch.randn(5, 3)
    h = net.torso(x)
    a, v = net.advantage(h), net.value(h)
    torch.testing.assert_close(net(x), v + a - a.mean(-1, keepdim=True))
    torch.testing.assert_close(net(x).mean(-1), v.squeeze(-1), rtol=1e-5, atol=1e-5)


def test_noisy_linear_initialisation_noise_statistics_and_fresh_noise():
    torch.manual_seed(0)
    p, q = 400, 300
    layer = NoisyLinear(p, q, sigma0=0.5)
    bound = 1 / np.sqrt(p)
    mu = layer.weight_mu.detach()
    assert mu.abs().max() <= bound and mu.std().item() == pytest.approx(bound / np.sqrt(3),
                                                                                          rel=0.05)
    assert torch.allclose(layer.weight_sigma.detach(), torch.tensor(0.5 / np.sqrt(p), dtype=torch.float32))
    # f(x) = sgn(x) sqrt|x| of standard normals: E f = 0, E f^2 = E|x| = sqrt(2/pi)
    samples = []
    for _ in range(200):
        layer.reset_noise()
        samples.append(layer.eps_in.clone())
    eps = torch.cat(samples)
    assert eps.mean().abs() < 0.02 and (eps ** 2).mean().item() == pytest.approx(np.sqrt(2 / np.pi), rel=0.03)
    x = torch.randn(2, p)
    layer.reset_noise()
    y1 = layer(x)
    layer.reset_noise()
    y2 = layer(x)
    assert not torch.allclose(y1, y2)
    layer.eval()
    torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight_mu, layer.bias_mu))


def test_loss_resamples_noise_each_training_forward():
    net = QNetwork(gym.spaces.Box(-1, 1, (3,), np.float32), 2, noisy=True)
    loss = DQNLoss(net, copy.deepcopy(net))
    b = batch_of([[0.1, 0.2, 0.3]], [[0.0, 0.0, 0.0]], [0], [0.0], [0.0])
    before = net.advantage.eps_out.clone()
    loss(b)
    assert not torch.equal(before, net.advantage.eps_out)


SWITCHES = [[], ["--no-double"], ["--no-dueling"], ["--no-prioritized"], ["--noisy"], ["--nstep", "1"],
            ["--no-anneal-per-beta"], ["--no-double", "--no-dueling", "--no-prioritized", "--nstep", "1"],
            ["--noisy", "--no-prioritized", "--no-dueling"]]


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: " ".join(s) or "defaults")
def test_every_switch_runs(switches, tmp_path):
    from derl_core.testing import invoke, tags
    result = invoke(["dqn", "--env-id", "CartPole-v1", "--total-steps", "600", "--learning-starts", "200",
                     "--train-every", "8", "--gradient-steps", "2", "--logdir", tmp_path / "r", *switches])
    assert result.exit_code == 0, (result.stderr, result.exception)
    names = tags(tmp_path / "r")
    assert {"losses/td_loss", "losses/q_values", "charts/episodic_return"} <= names
    assert ("charts/per_beta" in names) == ("--no-prioritized" not in switches)
    assert ("charts/epsilon" in names)


def test_continuous_actions_are_bad_input(tmp_path):
    from derl_core.testing import invoke
    result = invoke(["dqn", "--env-id", "Pendulum-v1", "--logdir", tmp_path / "r"])
    from derl_core.plugins import registry
    able = sorted(n for n, spec in registry().algorithms.items() if "Box" in spec.action_spaces)
    assert {"a2c", "ppo", "sac"} <= set(able)   # every installed algorithm with Box actions is named
    assert result.exit_code == 2 and "dqn cannot handle Box actions" in result.stderr
    assert f"algorithms that can: {', '.join(able)}" in result.stderr, result.stderr
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_dqn_learns_cartpole(tmp_path):
    """Seeded: a smaller budget than the classic one (which bench/dqn_cartpole.py runs in full)."""
    from derl_core.testing import learning_run
    returns = learning_run("dqn", "CartPole-v1", tmp_path / "r", total_steps=25_000)
    assert np.mean(returns[-10:]) >= 150, returns[-10:]
