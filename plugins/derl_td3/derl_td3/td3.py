"""TD3 (Fujimoto et al. 2018), read top to bottom. What it shares with SAC is the core's (plugin API 3):
TwinQ critics, BoxActions scaling, PolyakUpdate, Every for the delay.

  EnvRunner (random actions during warm-up, then the actor + Gaussian noise) -> ExperienceReplay (uniform)
  -> each batch: critic step (targets from the smaller target Q of the smoothed target action)
  -> every policy_delay-th batch: actor step (maximise Q1), then Polyak update of the actor and critic targets
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from derl_core import (Alg, BoxActions, DelayedCallback, EnvRunner, Every, ExperienceReplay, Factory, Policy,
                       PolicyStep, PolyakUpdate, ReplayStorage, Trainer, TwinQ, init_orthogonal, mlp)
from derl_core.model_options import mlp_sizes
from derl_core.rl.models import ACTIVATIONS, Flatten, encoder_for
from derl_core.rl.spaces import rows


class Actor(nn.Module):
    """obs -> a deterministic action in [-1, 1] (tanh)."""

    def __init__(self, obs_dim, act_dim, hidden=(256, 256), activation="relu", orthogonal=False, encoder=None):
        super().__init__()
        self.encoder = encoder if encoder is not None else Flatten(obs_dim)   # Dict, Discrete, ...: the core's
        self.net = mlp([obs_dim, *hidden, act_dim], ACTIVATIONS[activation], nn.Tanh)
        if orthogonal:
            init_orthogonal(self.net)
            init_orthogonal(self.net[-2], 0.01)

    def forward(self, obs):
        return self.net(self.encoder(obs))


class TD3Policy(Policy):
    """Rollouts: uniform random actions for the first `learning_starts` steps, then the actor's action plus
    N(0, exploration_noise), clipped to [-1, 1] and scaled to the env's bounds."""

    def __init__(self, actor, action_space, learning_starts, noise, clock, device="cpu", seed=None):
        super().__init__(actor, device)
        self.box = BoxActions(action_space)
        self.learning_starts, self.noise, self.clock = learning_starts, noise, clock
        self.rng = np.random.default_rng(seed)

    def act(self, obs, deterministic: bool = False) -> PolicyStep:
        obs = self.to_tensor(obs)
        dim = len(self.box.low)
        if not deterministic and self.clock() < self.learning_starts:
            a = self.rng.uniform(-1.0, 1.0, size=(rows(obs), dim))
        else:
            with torch.inference_mode():
                a = self.model(obs).cpu().numpy()
            if not deterministic and self.noise:
                a = np.clip(a + self.rng.normal(0.0, self.noise, size=a.shape), -1.0, 1.0)
        return PolicyStep(self.box.scale(a))

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.box.scale_tensor(self.model(obs))

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]


class TD3Loss:
    """`critic_loss` (every batch) and `actor_loss` (every policy_delay-th, through Every)."""

    def __init__(self, policy, actor_target, critic, critic_target, policy_noise, noise_clip):
        self.policy, self.actor_target = policy, actor_target
        self.critic, self.critic_target = critic, critic_target
        self.policy_noise, self.noise_clip = policy_noise, noise_clip

    def critic_loss(self, batch, extras=None):
        with torch.no_grad():
            next_actions = self.actor_target(batch.next_observations)
            if self.policy_noise:   # target policy smoothing
                noise = (torch.randn_like(next_actions) * self.policy_noise).clamp(-self.noise_clip, self.noise_clip)
                next_actions = (next_actions + noise).clamp(-1.0, 1.0)
            next_q = self.critic_target(batch.next_observations, next_actions).min(0).values
            targets = batch.rewards + batch.discounts * next_q
        q = self.critic(batch.observations, self.policy.box.unscale(batch.actions))
        losses = torch.stack([F.mse_loss(qi, targets) for qi in q])
        stats = {"losses/qf1_loss": losses[0].detach(), "losses/qf1_values": q[0].detach().mean()}
        if len(losses) > 1:
            stats["losses/qf2_loss"] = losses[1].detach()
        return losses.sum(), stats

    def actor_loss(self, batch, extras=None):
        self.critic.requires_grad_(False)   # gradients flow through the critic to the actions only
        q1 = self.critic(batch.observations, self.policy.model(batch.observations))[0]
        self.critic.requires_grad_(True)
        loss = -q1.mean()
        return loss, {"losses/actor_loss": loss.detach()}


class TD3Factory(Factory):
    def build(self, env):
        space = env.single_observation_space
        obs_dim = encoder_for(space).out_features   # a Box flattened; Dict, Tuple, Discrete: the core's encoders
        act_dim = int(np.prod(env.single_action_space.shape))
        lr, options = self.get("learning_rate"), self.model_options()
        hidden, critic_hidden = mlp_sizes(self.kwargs)   # auto: the core's rule, same: the actor's
        nets = dict(activation=options["activation"], orthogonal=options["orthogonal"])
        actor = Actor(obs_dim, act_dim, hidden, **nets, encoder=encoder_for(space)).to(self.device)
        actor_target = copy.deepcopy(actor).requires_grad_(False)
        policy = TD3Policy(actor, env.single_action_space, self.get("learning_starts"),
                           self.get("exploration_noise"), self.clock, device=self.device, seed=self.seed)
        runner = EnvRunner(env, policy, self.get("train_every"), self.seed, self.summary, self.clock)
        storage = ReplayStorage(self.get("buffer_size"), env.num_envs, env.single_observation_space,
                                env.single_action_space, nstep=1, gamma=self.get("gamma"), seed=self.seed,
                                frame_stack=getattr(env, "frame_stack", 1), her=self.her(env))
        data = ExperienceReplay(runner, storage, self.get("batch_size"), self.get("learning_starts"),
                                self.get("gradient_steps"), device=self.device)

        critic = TwinQ(obs_dim, act_dim, critic_hidden, n=2 if self.get("twin") else 1, **nets,
                       encoder=encoder_for(space)).to(self.device)
        critic_target = copy.deepcopy(critic).requires_grad_(False)
        loss = TD3Loss(policy, actor_target, critic, critic_target, self.get("policy_noise"), self.get("noise_clip"))
        critic_opt = torch.optim.Adam(critic.parameters(), lr=lr, fused=True)
        actor_opt = torch.optim.Adam(actor.parameters(), lr=lr, fused=True)
        delay = self.get("policy_delay")
        actor_step = Every(delay, loss.actor_loss)
        polyak = [PolyakUpdate(critic_target, critic, self.get("tau")),
                  PolyakUpdate(actor_target, actor, self.get("tau"))]

        def update_targets(batch, stats):
            for update in polyak:
                update(batch, stats)
        targets = DelayedCallback(delay, update_targets)   # with the actor, every policy_delay-th step
        return Alg(runner, data, [(loss.critic_loss, Trainer(critic_opt, lr, prefix="critic_")),
                                  (actor_step, Trainer(actor_opt, lr, prefix="actor_"))], self.summary,
                   {"actor": actor, "actor_target": actor_target, "critic": critic, "critic_target": critic_target,
                    "critic_optimizer": critic_opt, "actor_optimizer": actor_opt, "replay": storage,
                    "actor_delay": actor_step, "target_delay": targets},
                   after_update=[targets])
