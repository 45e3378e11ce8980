import numpy as np
import pytest
import torch

from derl_a2c.a2c import A2CLoss
from derl_core import Evaluation, RolloutBatch
from derl_core.testing import learning_run


class Linear1:
    """Policy with one logit parameter theta for action 1 (action 0 has logit 0) and a value parameter."""

    def __init__(self):
        self.theta = torch.zeros((), requires_grad=True)
        self.v = torch.tensor(0.5, requires_grad=True)

    def evaluate(self, obs, actions):
        logits = torch.stack([torch.zeros(()), self.theta]).expand(len(obs), 2)
        dist = torch.distributions.Categorical(logits=logits)
        return Evaluation(dist.log_prob(actions), dist.entropy(), self.v.expand(len(obs)))


def test_a2c_loss_gradient_sign_and_value_target_by_hand():
    policy = Linear1()
    batch = RolloutBatch(torch.zeros(2, 1), torch.tensor([1, 1]), torch.zeros(2), torch.tensor([0.5, 0.5]),
                         torch.tensor([2.0, 1.0]), torch.tensor([1.5, 2.5]))
    loss, stats = A2CLoss(policy, value_coef=0.5, entropy_coef=0.0)(batch)
    loss.backward()
    # positive advantages for action 1: descending the loss raises its logit
    assert policy.theta.grad.item() < 0
    # d/dtheta of -mean(A log pi(1)) at theta=0: -mean(A) * (1 - 0.5) = -0.75
    assert policy.theta.grad.item() == pytest.approx(-0.75)
    # value loss: mean((0.5-1.5)^2, (0.5-2.5)^2) = 2.5; its gradient pulls v up towards the targets
    assert stats["losses/value_loss"].item() == pytest.approx(2.5)
    assert policy.v.grad.item() == pytest.approx(0.5 * 2 * ((0.5 - 1.5) + (0.5 - 2.5)) / 2)


@pytest.mark.slow
def test_a2c_learns_cartpole(tmp_path):
    """Seeded, on a smaller budget than the classic 500k (bench/a2c_cartpole.py runs the full one)."""
    returns = learning_run("a2c", "CartPole-v1", tmp_path / "r", total_steps=150_000)
    assert np.mean(returns[-20:]) >= 200, np.mean(returns[-20:])
