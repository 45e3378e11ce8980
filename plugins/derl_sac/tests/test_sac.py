import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from derl_core import ReplayBatch

from derl_core import PolyakUpdate, TwinQ
from derl_sac.sac import Actor, SACLoss, SACPolicy, squashed_log_prob


def test_squashed_log_prob_matches_numerical_reference():
    torch.manual_seed(0)
    mean = torch.randn(1000, 2, dtype=torch.float64)
    std = torch.rand(1000, 2, dtype=torch.float64) + 0.1
    normal = torch.distributions.Normal(mean, std)
    u = normal.sample() * 1.5
    ours = squashed_log_prob(normal, u)
    # reference 1: torch's own change of variables through TanhTransform
    ref = torch.distributions.TransformedDistribution(
        normal, [torch.distributions.transforms.TanhTransform()]).log_prob(torch.tanh(u)).sum(-1)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    # reference 2: density of a = tanh(u) by a finite difference of u = atanh(a)
    a, h = torch.tanh(u[:5]), 1e-6
    du_da = (torch.atanh(a + h) - torch.atanh(a - h)) / (2 * h)
    numeric = (normal.log_prob(u)[:5] + du_da.log()).sum(-1)
    torch.testing.assert_close(ours[:5], numeric, rtol=1e-5, atol=1e-5)
    # and it stays finite where tanh saturates
    assert torch.isfinite(squashed_log_prob(torch.distributions.Normal(torch.zeros(1), torch.ones(1)),
                                            torch.tensor([30.0]))).all()


class ConstQ(torch.nn.Module):
    def __init__(self, q1, q2):
        super().__init__()
        self.q = torch.tensor([q1, q2])

    def forward(self, obs, actions):
        return self.q[:, None].expand(2, len(obs))


class FixedActor(torch.nn.Module):
    def sample(self, obs, deterministic=False):
        return torch.zeros(len(obs), 1), torch.full((len(obs),), -0.7)


def test_critic_target_includes_entropy_term():
    policy = SACPolicy(FixedActor(), gym.spaces.Box(-2, 2, (1,), np.float32), 0, lambda: 0)
    critic = TwinQ(3, 1)
    loss = SACLoss(policy, critic, ConstQ(5.0, 4.0), torch.tensor(math.log(0.2)), -1.0)
    batch = ReplayBatch(torch.zeros(1, 3), torch.zeros(1, 1), torch.tensor([1.0]), torch.tensor([0.9]),
                        torch.zeros(1, 3), torch.zeros(1, dtype=torch.long))
    value, stats = loss.critic_loss(batch)
    # y = r + discount * (min(5, 4) - alpha * log pi) = 1 + 0.9 * (4 + 0.2 * 0.7)
    y = 1 + 0.9 * (4 + 0.2 * 0.7)
    q = critic(batch.observations, torch.zeros(1, 1)).detach()
    assert value.item() == pytest.approx(((q[0] - y) ** 2 + (q[1] - y) ** 2).sum().item(), rel=1e-5)


def test_polyak_update():
    src, tgt = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    before = [p.clone() for p in tgt.parameters()]
    PolyakUpdate(tgt, src, 0.1)({}, {})
    for b, s, t in zip(before, src.parameters(), tgt.parameters()):
        torch.testing.assert_close(t, 0.9 * b + 0.1 * s)


def test_temperature_loss_sign():
    log_alpha = torch.zeros((), requires_grad=True)
    loss = SACLoss(None, None, None, log_alpha, target_entropy=-1.0)
    # entropy below target (log pi = 2 > -target = 1): descending the loss must raise alpha
    value, _ = loss.temperature_loss(None, {"new_log_prob": torch.tensor([2.0])})
    value.backward()
    assert log_alpha.grad.item() < 0
    log_alpha.grad = None
    value, _ = loss.temperature_loss(None, {"new_log_prob": torch.tensor([-3.0])})   # entropy above target: alpha falls
    value.backward()
    assert log_alpha.grad.item() > 0


def test_actions_scaled_to_env_bounds_and_random_during_warmup():
    space = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 10.0], np.float32))
    clock = {"t": 0}
    policy = SACPolicy(Actor(3, 2, (16, 16)), space, 100, lambda: clock["t"], seed=0)
    warm = policy.act(np.zeros((500, 3), np.float32)).actions
    assert warm.min(0)[0] < -1.5 and warm.max(0)[1] > 9 and space.contains(warm[0])
    clock["t"] = 200
    acts = policy.act(np.random.randn(50, 3).astype(np.float32)).actions
    assert ((acts >= space.low) & (acts <= space.high)).all()
    torch.testing.assert_close(policy.unscale(torch.as_tensor(policy.scale(np.array([[0.5, -0.5]])))),
                               torch.tensor([[0.5, -0.5]], dtype=torch.float32))   # in the Box's dtype


def test_discrete_actions_are_bad_input(tmp_path):
    from derl_core.testing import invoke
    result = invoke(["sac", "--env-id", "CartPole-v1", "--logdir", tmp_path / "r"])
    assert result.exit_code == 2 and "sac cannot handle Discrete actions" in result.stderr


@pytest.mark.slow
def test_sac_learns_pendulum(tmp_path):
    """Seeded, on a budget the suite can afford (bench/sac_pendulum.py checks -200 at the full budget)."""
    from derl_core.testing import learning_run
    returns = learning_run("sac", "Pendulum-v1", tmp_path / "r", total_steps=4000)
    assert np.mean(returns[-3:]) >= -900, returns
