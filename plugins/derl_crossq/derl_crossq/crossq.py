"""CrossQ (Bhatt et al. 2024, "CrossQ: batch normalization in deep RL for greater sample efficiency and
simplicity"), read top to bottom. Everything else is SAC's (derl_sac.sac.SACFactory.build).

  critics: twin MLPs, BatchRenorm on the input and after each hidden layer's activation, no target copies
  critic loss: Q of (s, a) and (s', a' ~ pi(s')) in ONE forward (train mode: the batch statistics cover both),
  target = r + gamma (min Q(s', a') - alpha log pi(a'|s')), detached
  actor loss: SAC's, with the critics in eval mode (running statistics), every policy_delay-th step
"""
import torch
from torch import nn

from derl_core.rl.models import ACTIVATIONS, Flatten
from derl_core.rl.spaces import tree_map
from derl_sac.sac import SACFactory, SACLoss


class BatchRenorm(nn.Module):
    """Batch renormalisation (Ioffe 2017) over the batch axis: in training, x normalised by the batch's mean
    and std, corrected towards the running statistics by r = clip(std_B / std, 1/r_max, r_max) and
    d = clip((mean_B - mean) / std, -d_max, d_max) once `warmup` updates are done (plain batch norm before);
    in eval mode, the running statistics. Then a learned scale and shift."""

    def __init__(self, features, momentum=0.01, eps=1e-3, warmup=100_000, r_max=3.0, d_max=5.0):
        super().__init__()
        self.momentum, self.eps, self.warmup, self.r_max, self.d_max = momentum, eps, warmup, r_max, d_max
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            std = (var + self.eps).sqrt()
            x_hat = (x - mean) / std
            if int(self.steps) >= self.warmup:
                running_std = (self.running_var + self.eps).sqrt()
                r = (std.detach() / running_std).clamp(1 / self.r_max, self.r_max)
                d = ((mean.detach() - self.running_mean) / running_std).clamp(-self.d_max, self.d_max)
                x_hat = x_hat * r + d
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach(), self.momentum)
                self.steps += 1
        else:
            x_hat = (x - self.running_mean) / (self.running_var + self.eps).sqrt()
        return x_hat * self.weight + self.bias


class RenormQ(nn.Module):
    """Twin Q networks (keys q1.*, q2.*) of (obs, action in [-1, 1]) -> (2, B), batch-renormalised."""

    def __init__(self, obs_dim, act_dim, hidden, activation="relu", orthogonal=False, encoder=None, n=2,
                 momentum=0.01, warmup=100_000):
        super().__init__()
        self.n = n
        self.encoder = encoder if encoder is not None else Flatten(obs_dim)
        norm = (lambda width: BatchRenorm(width, momentum, warmup=warmup))
        for i in range(1, n + 1):
            layers, width = [norm(obs_dim + act_dim)], obs_dim + act_dim
            for size in hidden:
                layers += [nn.Linear(width, size), ACTIVATIONS[activation](), norm(size)]
                width = size
            layers.append(nn.Linear(width, 1))
            setattr(self, f"q{i}", nn.Sequential(*layers))

    def forward(self, obs, actions):
        x = torch.cat([self.encoder(obs), actions], -1)
        return torch.stack([getattr(self, f"q{i}")(x) for i in range(1, self.n + 1)]).squeeze(-1)


def _joined(a, b):
    """Two observation batches (tensors, or Dict / Tuple trees of them) as one."""
    return tree_map(lambda x, y: torch.cat([x, y]), a, b)


class CrossQLoss(SACLoss):
    def critic_loss(self, batch, extras=None):
        with torch.no_grad():
            next_actions, next_log_prob = self.policy.model.sample(batch.next_observations)
        n = len(batch.rewards)
        self.critic.train()
        q = self.critic(_joined(batch.observations, batch.next_observations),
                        torch.cat([self.policy.unscale(batch.actions), next_actions]))   # (2, 2B): one forward
        current, following = q[:, :n], q[:, n:].detach()
        targets = batch.rewards + batch.discounts * (following.min(0).values - self.alpha * next_log_prob)
        qf1 = torch.nn.functional.mse_loss(current[0], targets)
        qf2 = torch.nn.functional.mse_loss(current[1], targets)
        return qf1 + qf2, {"losses/qf1_loss": qf1.detach(), "losses/qf2_loss": qf2.detach(),
                           "losses/qf1_values": current[0].detach().mean()}

    def actor_q(self, observations, actions):
        self.critic.eval()   # the running statistics, as SBX's actor loss
        try:
            return self.critic(observations, actions).min(0).values
        finally:
            self.critic.train()


class CrossQFactory(SACFactory):
    target_critic = False

    def optimizer(self, params, lr):
        return torch.optim.Adam(params, lr=lr, betas=(self.get("adam_beta1"), 0.999), fused=True)

    def critic(self, obs_dim, act_dim, hidden, nets, encoder):
        return RenormQ(obs_dim, act_dim, hidden, **nets, encoder=encoder, momentum=self.get("bn_momentum"),
                       warmup=self.get("renorm_warmup"))

    def loss(self, policy, critic, critic_target, log_alpha, target_entropy):
        return CrossQLoss(policy, critic, critic_target, log_alpha, target_entropy)
