"""QR-DQN (Dabney et al. 2018), read top to bottom. Everything but the head and the loss is DQN's
(derl_dqn.dqn.DQNFactory.build: epsilon-greedy EnvRunner, n-step / prioritized replay, target copies, Adam).

  QuantileNetwork: the core's torso -> (actions x N) quantiles of the return; Q = their mean (acting, export)
  QuantileHuberLoss: targets r + gamma^n theta'(s', a*), a* = argmax of the target's mean (or the online net's,
  --double); every (current i, target j) pair: |tau_i - 1{u < 0}| Huber(u), u = target_j - current_i,
  summed over i, averaged over j and the batch (importance-weighted with prioritized replay)
"""
import torch
import torch.nn.functional as F
from torch import nn

from derl_core import init_orthogonal, make_torso, masked
from derl_dqn.dqn import DQNFactory


class QuantileNetwork(nn.Module):
    """The core's torso (--net-arch, 256-256 ReLU by default; a CNN on images), then one linear layer of
    actions x N quantiles. forward -> Q-values (the quantiles' mean), what the epsilon-greedy policy and
    `derl export` read; quantiles -> (B, actions, N), what the loss reads."""

    def __init__(self, observation_space, num_actions, n_quantiles, hidden=(256, 256), activation="relu",
                 orthogonal=False, image_scale=255.0, encoder="auto"):
        super().__init__()
        self.num_actions, self.n_quantiles = num_actions, n_quantiles
        self.torso = make_torso(observation_space, hidden, activation, image_scale, encoder)
        self.head = nn.Linear(self.torso.out_features, num_actions * n_quantiles)
        if orthogonal:
            init_orthogonal(self.torso)
            init_orthogonal(self.head, 1.0)

    def quantiles(self, obs):
        return self.head(self.torso(obs)).view(-1, self.num_actions, self.n_quantiles)

    def forward(self, obs):
        return self.quantiles(obs).mean(-1)


class QuantileHuberLoss:
    """Returns the per-sample TD errors (target mean - current mean) as "td_errors" for the priorities."""

    def __init__(self, model, target, double=False, kappa=1.0):
        self.model, self.target, self.double, self.kappa = model, target, double, kappa
        n = model.n_quantiles
        self.taus = (torch.arange(n, dtype=torch.float32) + 0.5) / n   # quantile midpoints (2i + 1) / 2N

    def __call__(self, batch, extras=None):
        actions = batch.actions.long()
        current = self.model.quantiles(batch.observations)
        current = current[torch.arange(len(actions), device=current.device), actions]           # (B, N)
        with torch.no_grad():
            nxt = self.target.quantiles(batch.next_observations)                                # (B, A, N)
            chooser = self.model(batch.next_observations) if self.double else nxt.mean(-1)
            chooser = masked(chooser, batch.next_observations)   # the next state's valid actions only
            best = nxt[torch.arange(len(actions), device=nxt.device), chooser.argmax(1)]         # (B, N)
            targets = batch.rewards.unsqueeze(1) + batch.discounts.unsqueeze(1) * best
        u = targets.unsqueeze(1) - current.unsqueeze(2)                                         # (B, N_i, N_j)
        huber = F.huber_loss(current.unsqueeze(2).expand_as(u), targets.unsqueeze(1).expand_as(u),
                             reduction="none", delta=self.kappa)
        taus = self.taus.to(u.device).view(1, -1, 1)
        per_sample = ((taus - (u.detach() < 0).float()).abs() * huber / self.kappa).sum(1).mean(1)
        loss = (batch.weights * per_sample).mean() if batch.weights is not None else per_sample.mean()
        return loss, {"losses/quantile_loss": loss.detach(), "losses/q_values": current.detach().mean(),
                      "td_errors": (targets.mean(1) - current.mean(1)).detach()}


class QRDQNFactory(DQNFactory):
    def network(self, env):
        return QuantileNetwork(env.single_observation_space, int(env.single_action_space.n),
                               self.get("n_quantiles"), **self.model_options()).to(self.device)

    def loss(self, model, target):
        return QuantileHuberLoss(model, target, self.get("double"))
