import numpy as np
import pytest
import torch

from derl_core import Constant, Evaluation, RolloutBatch
from derl_core.testing import invoke, read_metrics
from derl_ppo.ppo import PPOLoss


class FixedPolicy:
    def __init__(self, logits, values):
        self.logits, self.values = logits, values

    def evaluate(self, obs, actions):
        dist = torch.distributions.Categorical(logits=self.logits)
        return Evaluation(dist.log_prob(actions), dist.entropy(), self.values)


def test_clipped_surrogate_and_value_clipping_by_hand():
    # two samples; new probabilities of the taken actions 0.8 (ratio 2 vs old 0.4) and 0.2 (ratio 0.5)
    logits = torch.log(torch.tensor([[0.8, 0.2], [0.8, 0.2]]))
    values = torch.tensor([1.0, 0.0], requires_grad=True)
    batch = RolloutBatch(torch.zeros(2, 1), torch.tensor([0, 1]), torch.log(torch.tensor([0.4, 0.4])),
                         torch.tensor([0.5, 0.0]), torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.0]))
    loss = PPOLoss(FixedPolicy(logits, values), Constant(0.2), value_coef=0.5, entropy_coef=0.0,
                   normalize_advantages=False)
    total, stats = loss(batch)
    # sample 1: A=1, r=2 -> min(2, 1.2) = 1.2 ; sample 2: A=-1, r=0.5 -> min(-0.5, -0.8) = -0.8
    assert stats["losses/policy_loss"].item() == pytest.approx(-(1.2 - 0.8) / 2, rel=1e-5)
    # value 1.0 vs old 0.5 clipped to 0.7: max((1-2)^2, (0.7-2)^2) = 1.69; sample 2: 0
    assert stats["losses/value_loss"].item() == pytest.approx(0.5 * 1.69 / 2, rel=1e-5)
    assert stats["losses/clipfrac"].item() == pytest.approx(1.0)


@pytest.mark.slow
def test_ppo_reaches_475_on_cartpole_within_classic_budget(tmp_path):
    result = invoke(["ppo", "--env-id", "CartPole-v1", "--seed", "1", "--logdir", tmp_path / "r"])
    assert result.exit_code == 0, result.stderr
    rows = read_metrics(tmp_path / "r")
    returns = [r["charts/episodic_return"] for r in rows if "charts/episodic_return" in r]
    assert max(r["step"] for r in rows) <= 100_000 + 256
    assert np.mean(returns[-100:]) >= 475, np.mean(returns[-100:])
