"""SAC (Haarnoja et al. 2018b), read top to bottom.

  EnvRunner (random actions during warm-up, then the squashed Gaussian) -> ExperienceReplay (uniform)
  -> each batch: critic step (twin Q, soft target with min of target Qs) -> actor step -> temperature step
  -> Polyak update of the target critics
"""
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from derl_core import (Alg, BoxActions, EnvRunner, Every, ExperienceReplay, Factory, Policy, PolicyStep, PolyakUpdate,
                       ReplayStorage, Trainer, TwinQ, init_orthogonal, mlp)
from derl_core.model_options import mlp_sizes
from derl_core.rl.models import ACTIVATIONS, Flatten, encoder_for
from derl_core.rl.spaces import rows

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def squashed_log_prob(normal: torch.distributions.Normal, u: torch.Tensor) -> torch.Tensor:
    """log pi(tanh(u)) = log N(u) - sum log(1 - tanh(u)^2), with log(1 - tanh(u)^2) written stably as
    2 (log 2 - u - softplus(-2u))."""
    correction = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
    return (normal.log_prob(u) - correction).sum(-1)


def body(sizes, activation):
    """The hidden layers (each followed by the activation); no hidden layer: the flattened input itself."""
    return mlp(sizes, ACTIVATIONS[activation], ACTIVATIONS[activation]) if len(sizes) > 1 else nn.Identity()


class Actor(nn.Module):
    """Hidden layers (--net-arch, 256-256 ReLU by default), then the mean and the state-dependent log-std."""

    def __init__(self, obs_dim, act_dim, hidden=(256, 256), activation="relu", orthogonal=False, encoder=None):
        super().__init__()
        self.encoder = encoder if encoder is not None else Flatten(obs_dim)   # Dict, Discrete, ...: the core's
        self.body = body([obs_dim, *hidden], activation)
        width = hidden[-1] if hidden else obs_dim
        self.mean = nn.Linear(width, act_dim)
        self.log_std = nn.Linear(width, act_dim)
        if orthogonal:   # hidden layers gain sqrt 2, the heads 0.01 (a near-zero mean at the start)
            init_orthogonal(self.body)
            init_orthogonal(self.mean, 0.01)
            init_orthogonal(self.log_std, 0.01)

    def forward(self, obs):
        h = self.body(self.encoder(obs))   # Box observations of any shape (rank 0 too) as one vector; Dict by key
        return self.mean(h), self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs, deterministic=False):
        """Actions in [-1, 1] (tanh-squashed) and their log-probabilities."""
        mean, log_std = self(obs)
        normal = torch.distributions.Normal(mean, log_std.exp())
        u = mean if deterministic else normal.rsample()
        return torch.tanh(u), squashed_log_prob(normal, u)


class SACPolicy(Policy):
    """Rollouts: uniform random actions for the first `learning_starts` steps, then sampled from the actor,
    scaled from [-1, 1] to the env's bounds (the core's BoxActions)."""

    def __init__(self, actor, action_space, learning_starts, clock, device="cpu", seed=None):
        super().__init__(actor, device)
        self.box = BoxActions(action_space)
        self.low, self.high = self.box.low, self.box.high
        self.learning_starts, self.clock = learning_starts, clock
        self.rng = np.random.default_rng(seed)

    def scale(self, a):
        return self.box.scale(a)

    def unscale(self, actions: torch.Tensor) -> torch.Tensor:
        return self.box.unscale(actions)

    def act(self, obs, deterministic: bool = False) -> PolicyStep:
        obs = self.to_tensor(obs)
        if not deterministic and self.clock() < self.learning_starts:
            a = self.rng.uniform(-1.0, 1.0, size=(rows(obs), len(self.low)))
        else:
            with torch.inference_mode():
                a = self.model.sample(obs, deterministic)[0].cpu().numpy()
        return PolicyStep(self.scale(a))

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.box.scale_tensor(self.model.sample(obs, True)[0])

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


class SACLoss:
    """The three SAC objectives, each an Alg step with its own optimizer: `critic_loss`, `actor_loss` (returns
    the new actions' log-probabilities as the extra "new_log_prob") and `temperature_loss` (reads it)."""

    def __init__(self, policy, critic, critic_target, log_alpha, target_entropy):
        self.policy, self.critic, self.critic_target = policy, critic, critic_target
        self.log_alpha, self.target_entropy = log_alpha, target_entropy

    @property
    def alpha(self):
        return self.log_alpha.exp().detach()

    def critic_loss(self, batch, extras=None):
        with torch.no_grad():
            next_actions, next_log_prob = self.policy.model.sample(batch.next_observations)
            next_q = self.critic_target(batch.next_observations, next_actions).min(0).values
            targets = batch.rewards + batch.discounts * (next_q - self.alpha * next_log_prob)
        q = self.critic(batch.observations, self.policy.unscale(batch.actions))
        qf1, qf2 = F.mse_loss(q[0], targets), F.mse_loss(q[1], targets)
        return qf1 + qf2, {"losses/qf1_loss": qf1.detach(), "losses/qf2_loss": qf2.detach(),
                           "losses/qf1_values": q[0].detach().mean()}

    def actor_loss(self, batch, extras=None):
        actions, log_prob = self.policy.model.sample(batch.observations)
        self.critic.requires_grad_(False)   # gradients flow through the critic to the actions only
        q = self.actor_q(batch.observations, actions)
        self.critic.requires_grad_(True)
        loss = (self.alpha * log_prob - q).mean()
        return loss, {"losses/actor_loss": loss.detach(), "new_log_prob": log_prob.detach()}

    def actor_q(self, observations, actions):
        """What the actor maximises: the smaller of the twin Qs (TQC: the mean of its quantiles)."""
        return self.critic(observations, actions).min(0).values

    def temperature_loss(self, batch, extras):
        loss = -(self.log_alpha * (extras["new_log_prob"] + self.target_entropy)).mean()
        return loss, {"losses/alpha_loss": loss.detach()}


class SACFactory(Factory):
    """build() below; a variant of SAC's loop replaces only what differs: `critic` and `loss` (derl-tqc), and
    `optimizer`, `target_critic` and a `policy_delay` hyperparameter (derl-crossq)."""
    target_critic = True   # a Polyak-averaged copy of the critic for the targets (CrossQ has none)

    def optimizer(self, params, lr):
        return torch.optim.Adam(params, lr=lr, fused=True)

    def critic(self, obs_dim, act_dim, hidden, nets, encoder):
        return TwinQ(obs_dim, act_dim, hidden, **nets, encoder=encoder)

    def loss(self, policy, critic, critic_target, log_alpha, target_entropy):
        return SACLoss(policy, critic, critic_target, log_alpha, target_entropy)

    def build(self, env):
        space = env.single_observation_space
        obs_dim = encoder_for(space).out_features   # a Box flattened; Dict, Tuple, Discrete: the core's encoders
        act_dim = int(np.prod(env.single_action_space.shape))
        lr, options = self.get("learning_rate"), self.model_options()
        hidden, critic_hidden = mlp_sizes(self.kwargs)   # auto: the core's rule, same: the actor's
        nets = dict(activation=options["activation"], orthogonal=options["orthogonal"])
        actor = Actor(obs_dim, act_dim, hidden, **nets, encoder=encoder_for(space)).to(self.device)
        policy = SACPolicy(actor, env.single_action_space, self.get("learning_starts"), self.clock,
                           device=self.device, seed=self.seed)
        runner = EnvRunner(env, policy, self.get("train_every"), self.seed, self.summary, self.clock)
        storage = ReplayStorage(self.get("buffer_size"), env.num_envs, env.single_observation_space,
                                env.single_action_space, nstep=1, gamma=self.get("gamma"), seed=self.seed,
                                frame_stack=getattr(env, "frame_stack", 1), her=self.her(env))   # derl's envs say
        data = ExperienceReplay(runner, storage, self.get("batch_size"), self.get("learning_starts"),
                                self.get("gradient_steps"), device=self.device)

        critic = self.critic(obs_dim, act_dim, critic_hidden, nets, encoder_for(space)).to(self.device)
        critic_target = copy.deepcopy(critic).requires_grad_(False) if self.target_critic else None
        log_alpha = torch.tensor(math.log(self.get("initial_alpha")), device=self.device, requires_grad=True)
        loss = self.loss(policy, critic, critic_target, log_alpha, -float(act_dim))
        critic_opt = self.optimizer(critic.parameters(), lr)
        actor_opt = self.optimizer(actor.parameters(), lr)
        delay = self.get("policy_delay") if "policy_delay" in self.kwargs else 1   # actor and temperature
        later = (lambda step: Every(delay, step)) if delay > 1 else (lambda step: step)
        steps = [(loss.critic_loss, Trainer(critic_opt, lr, prefix="critic_")),
                 (later(loss.actor_loss), Trainer(actor_opt, lr, prefix="actor_"))]
        state = {"actor": actor, "critic": critic, "critic_optimizer": critic_opt, "actor_optimizer": actor_opt,
                 "replay": storage, "log_alpha": _TensorState(log_alpha)}
        if critic_target is not None:
            state["critic_target"] = critic_target
        if delay > 1:
            state["actor_delay"] = steps[1][0]
        if self.get("autotune_alpha"):
            alpha_opt = torch.optim.Adam([log_alpha], lr=lr)
            steps.append((later(loss.temperature_loss), Trainer(alpha_opt, lr, prefix="alpha_")))
            state["alpha_optimizer"] = alpha_opt
            if delay > 1:
                state["temperature_delay"] = steps[-1][0]
        report = (lambda: {"losses/alpha": loss.alpha})
        if critic_target is None:
            self.get("tau")   # in the list CrossQ shares with SAC, unused: there is no target to average
            return Alg(runner, data, steps, self.summary, state,
                       after_update=[lambda batch, stats: report()])
        return Alg(runner, data, steps, self.summary, state,
                   after_update=[PolyakUpdate(critic_target, critic, self.get("tau"), report=report)])


class _TensorState:
    def __init__(self, tensor):
        self.tensor = tensor

    def state_dict(self):
        return {"value": self.tensor.detach().clone()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.tensor.copy_(state["value"])
