"""TQC (Kuznetsov et al. 2020, "Controlling overestimation bias with truncated mixture of continuous
distributional quantile critics"), read top to bottom. Everything but the critics and their loss is SAC's
(derl_sac.sac.SACFactory.build: actor, warm-up, temperature, Polyak targets, the order of the steps).

  QuantileCritics: n_critics MLPs of (obs, action) -> n_quantiles each, (B, n_critics, n_quantiles)
  critic loss: the next state's quantiles of every target critic pooled and sorted, the top
  n_critics * top_quantiles_to_drop dropped; target = r + gamma (kept - alpha log pi(a'|s')); each critic's
  quantiles regressed on every target atom (quantile Huber, kappa 1), summed over quantiles, averaged over atoms
  actor loss: alpha log pi - the mean of all critics' quantiles at the actor's action
"""
import torch
import torch.nn.functional as F
from torch import nn

from derl_core import init_orthogonal, mlp
from derl_core.rl.models import ACTIVATIONS, Flatten
from derl_sac.sac import SACFactory, SACLoss


class QuantileCritics(nn.Module):
    """`n` networks (keys q1.*, ..., like TwinQ) of (obs, action in [-1, 1]) -> `quantiles` values; `encoder`
    turns observations into `obs_dim` features first (shared, as SB3's critics share theirs)."""

    def __init__(self, obs_dim, act_dim, hidden, quantiles, n, activation="relu", orthogonal=False, encoder=None):
        super().__init__()
        self.n, self.quantiles = n, quantiles
        self.encoder = encoder if encoder is not None else Flatten(obs_dim)
        for i in range(1, n + 1):
            q = mlp([obs_dim + act_dim, *hidden, quantiles], ACTIVATIONS[activation])
            if orthogonal:
                init_orthogonal(q)
                init_orthogonal(q[-1], 1.0)
            setattr(self, f"q{i}", q)

    def forward(self, obs, actions):
        x = torch.cat([self.encoder(obs), actions], -1)
        return torch.stack([getattr(self, f"q{i}")(x) for i in range(1, self.n + 1)], 1)


def quantile_huber(current, targets, kappa: float = 1.0):
    """current (B, C, N) quantiles at taus (2i + 1) / 2N, targets (B, M) atoms -> per-sample loss (B,)."""
    n = current.shape[-1]
    taus = (torch.arange(n, device=current.device, dtype=current.dtype) + 0.5) / n
    u = targets[:, None, None, :] - current[..., None]                          # (B, C, N, M)
    huber = F.huber_loss(current[..., None].expand_as(u), targets[:, None, None, :].expand_as(u),
                         reduction="none", delta=kappa)
    weight = (taus[None, None, :, None] - (u.detach() < 0).to(u.dtype)).abs()
    return (weight * huber / kappa).sum(2).mean(-1).mean(1)                     # sum over N, mean over M, C


class TQCLoss(SACLoss):
    def __init__(self, policy, critic, critic_target, log_alpha, target_entropy, drop: int):
        super().__init__(policy, critic, critic_target, log_alpha, target_entropy)
        self.keep = critic.n * (critic.quantiles - drop)   # atoms of the pooled target kept

    def critic_loss(self, batch, extras=None):
        with torch.no_grad():
            next_actions, next_log_prob = self.policy.model.sample(batch.next_observations)
            pooled = self.critic_target(batch.next_observations, next_actions).flatten(1)   # (B, C * N)
            kept = pooled.sort(1).values[:, :self.keep]
            targets = batch.rewards[:, None] + batch.discounts[:, None] * (kept - self.alpha * next_log_prob[:, None])
        current = self.critic(batch.observations, self.policy.unscale(batch.actions))
        loss = quantile_huber(current, targets).mean()
        return loss, {"losses/critic_loss": loss.detach(), "losses/qf1_values": current.detach().mean()}

    def actor_q(self, observations, actions):
        return self.critic(observations, actions).mean((1, 2))


class TQCFactory(SACFactory):
    def critic(self, obs_dim, act_dim, hidden, nets, encoder):
        return QuantileCritics(obs_dim, act_dim, hidden, self.get("n_quantiles"), self.get("n_critics"), **nets,
                               encoder=encoder)

    def loss(self, policy, critic, critic_target, log_alpha, target_entropy):
        return TQCLoss(policy, critic, critic_target, log_alpha, target_entropy, self.get("top_quantiles_to_drop"))
