"""DQN (Mnih et al. 2015) with Rainbow's pieces that need no distributional head: n-step returns,
double DQN, dueling head, prioritized replay, noisy nets.

  EnvRunner (epsilon-greedy, train_every steps) -> ExperienceReplay (uniform or prioritized, n-step)
  -> gradient_steps batches -> DQNLoss (Huber, importance-weighted per sample) -> Adam
  -> after each step: priorities |td| (UpdatePriorities), target net copied every target_update_interval
     gradient steps (CopyTarget)
"""
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from derl_core import (Alg, Constant, CopyTarget, EnvRunner, EpsilonGreedyPolicy, ExperienceReplay, Factory,
                       Linear, ReplayStorage, Trainer, custom_model, init_orthogonal, linear_or_constant, make_torso,
                       masked)


class NoisyLinear(nn.Module):
    """Factorised Gaussian noisy layer (Fortunato et al. 2018): w = mu + sigma * f(eps_out) f(eps_in)^T,
    f(x) = sgn(x) sqrt|x|; mu ~ U(-1/sqrt(p), 1/sqrt(p)), sigma = sigma0/sqrt(p). In eval mode: mu only."""

    def __init__(self, in_features, out_features, sigma0=0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))
        self.reset_noise()

    @staticmethod
    def _f(x):
        return x.sign() * x.abs().sqrt()

    @torch.no_grad()
    def reset_noise(self):
        self.eps_in.copy_(self._f(torch.randn(self.in_features, device=self.eps_in.device)))
        self.eps_out.copy_(self._f(torch.randn(self.out_features, device=self.eps_out.device)))

    def forward(self, x):
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        return F.linear(x, weight, self.bias_mu + self.bias_sigma * self.eps_out)


class QNetwork(nn.Module):
    """Torso (the core's: --net-arch layers, by default 256-256 ReLU, after a Nature CNN on images) then a Q
    head; dueling: Q = V + A - mean(A). The dueling streams are single layers on the torso's features.
    `orthogonal`: hidden layers gain sqrt 2, the (non-noisy) heads gain 1; else PyTorch's default init."""

    def __init__(self, observation_space, num_actions, dueling=True, noisy=False, sigma0=0.5,
                 hidden=(256, 256), activation="relu", orthogonal=False, image_scale=255.0, encoder="auto"):
        super().__init__()
        self.torso = make_torso(observation_space, hidden, activation, image_scale, encoder)
        linear = (lambda i, o: NoisyLinear(i, o, sigma0)) if noisy else nn.Linear
        self.advantage = linear(self.torso.out_features, num_actions)
        self.value = linear(self.torso.out_features, 1) if dueling else None
        if orthogonal:
            init_orthogonal(self.torso)
            for head in (self.advantage, self.value):
                if isinstance(head, nn.Linear):
                    init_orthogonal(head, 1.0)

    def forward(self, obs):
        h = self.torso(obs)
        a = self.advantage(h)
        return self.value(h) + a - a.mean(-1, keepdim=True) if self.value is not None else a

    def reset_noise(self):
        for m in self.modules():
            if isinstance(m, NoisyLinear):
                m.reset_noise()


class DQNLoss:
    """Huber loss of Q(s, a) against the n-step target; returns the per-sample TD errors as the extra
    "td_errors" (for the priorities)."""

    def __init__(self, model, target, double=True):
        self.model, self.target, self.double = model, target, double

    def __call__(self, batch, extras=None):
        for net in (self.model, self.target):   # (a --model module need not have noise)
            if hasattr(net, "reset_noise"):
                net.reset_noise()
        q = self.model(batch.observations)
        q_taken = q.gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_target = self.target(batch.next_observations)
            chooser = self.model(batch.next_observations) if self.double else next_target
            chooser = masked(chooser, batch.next_observations)   # the next state's valid actions only
            next_q = next_target.gather(1, chooser.argmax(1, keepdim=True)).squeeze(1)
            targets = batch.rewards + batch.discounts * next_q
        huber = F.smooth_l1_loss(q_taken, targets, reduction="none")
        loss = (batch.weights * huber).mean() if batch.weights is not None else huber.mean()
        return loss, {"losses/td_loss": loss.detach(), "losses/q_values": q_taken.detach().mean(),
                      "td_errors": (targets - q_taken).detach()}


class UpdatePriorities:
    """After each gradient step: the sampled rows' priorities become |TD error|."""

    def __init__(self, storage, beta, clock):
        self.storage, self.beta, self.clock = storage, beta, clock

    def __call__(self, batch, stats):
        self.storage.update_priorities(batch.indices.cpu().numpy(), stats["td_errors"].cpu().numpy())
        return {"charts/per_beta": self.beta(self.clock())}


class DQNFactory(Factory):
    """build() below; a variant of the Q-learning loop (derl-qrdqn) replaces `network` and `loss` only."""

    def network(self, env):
        """The Q network: forward(obs) -> Q-values (B, actions)."""
        noisy = self.get("noisy")
        options = self.model_options()
        custom = options.pop("model", "auto")
        if custom != "auto":   # --model: your module's forward gives the Q-values (no dueling or noisy heads)
            heads = dict(dueling=self.get("dueling"), noisy=noisy, noisy_sigma0=self.get("noisy_sigma0"))
            return custom_model(custom, env.single_observation_space, env.single_action_space,
                                dict(options, **heads), "q_values").to(self.device)
        return QNetwork(env.single_observation_space, int(env.single_action_space.n), self.get("dueling"), noisy,
                        self.get("noisy_sigma0"), **options).to(self.device)

    def loss(self, model, target):
        return DQNLoss(model, target, self.get("double"))

    def build(self, env):
        noisy, total = self.get("noisy", False), self.get("total_steps")
        num_actions = int(env.single_action_space.n)
        model = self.network(env)
        schedule = Linear(self.get("epsilon_start"), self.get("epsilon_end"), self.get("epsilon_steps"))
        epsilon = Constant(0.0) if noisy else schedule   # noisy nets explore by themselves
        policy = EpsilonGreedyPolicy(model, num_actions, epsilon, self.clock, device=self.device, seed=self.seed)
        runner = EnvRunner(env, policy, max(1, self.get("train_every") // env.num_envs), self.seed, self.summary,
                           self.clock)
        beta = self.get("per_beta")
        beta = Linear(beta, 1.0, total) if self.get("anneal_per_beta") else Constant(beta)
        storage = ReplayStorage(self.get("buffer_size"), env.num_envs, env.single_observation_space,
                                env.single_action_space, self.get("nstep"), self.get("gamma"),
                                self.get("prioritized"), self.get("per_alpha"), seed=self.seed,
                                frame_stack=getattr(env, "frame_stack", 1), her=self.her(env))   # derl's envs say
        data = ExperienceReplay(runner, storage, self.get("batch_size"), self.get("learning_starts"),
                                self.get("gradient_steps"), beta, device=self.device)

        target = copy.deepcopy(model).requires_grad_(False)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.get("learning_rate"), eps=self.get("adam_eps"),
                                     fused=True)
        lr = linear_or_constant(self.get("learning_rate"), self.get("anneal_lr"), total)
        trainer = Trainer(optimizer, lr, self.get("max_grad_norm"))
        copy_target = CopyTarget(model, target, self.get("target_update_interval"))
        after = [UpdatePriorities(storage, beta, self.clock)] if storage.prioritized else []
        after += [copy_target, lambda batch, stats: {"charts/epsilon": epsilon(self.clock())}]
        return Alg(runner, data, [(self.loss(model, target), trainer)], self.summary,
                   {"model": model, "target": target, "optimizer": optimizer, "replay": storage,
                    "target_copy": copy_target}, after_update=after)
