"""A2C (Mnih et al. 2016, synchronous): one gradient step per rollout.

  rollout (EnvRunner) -> GAE (lambda 1: n-step returns) -> merged batch -> A2CLoss -> RMSprop step
"""
import torch

from derl_core import Alg, AlgLoss, Factory, Trainer
from derl_core.builders import actor_critic_policy, explained_variance, on_policy_runner
from derl_core.schedules import linear_or_constant


class A2CLoss(AlgLoss):
    def __init__(self, policy, value_coef, entropy_coef, normalize_advantages=False):
        self.policy, self.value_coef, self.entropy_coef = policy, value_coef, entropy_coef
        self.normalize_advantages = normalize_advantages

    def __call__(self, batch):
        out = self.policy.act(batch["observations"], training=True)
        dist, values = out["distribution"], out["values"]
        advantages = batch["advantages"]
        if self.normalize_advantages and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -(advantages * dist.log_prob(batch["actions"])).mean()
        value_loss = (values - batch["value_targets"]).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss + self.value_coef * value_loss - self.entropy_coef * entropy
        stats = {"losses/policy_loss": policy_loss.detach(), "losses/value_loss": value_loss.detach(),
                 "losses/entropy": entropy.detach(),
                 "losses/explained_variance": explained_variance(batch["values"], batch["value_targets"])}
        return loss, stats


class A2CFactory(Factory):
    def make_runner(self, env):
        self.policy = actor_critic_policy(env, self.device, shared=self.get("shared_torso"))
        return on_policy_runner(env, self.policy, self.get("nsteps"), self.get("gamma"), self.get("gae_lambda"),
                                self.device, self.seed, self.summary, self.clock)

    def make_alg(self, runner):
        model = self.policy.model
        optimizer = torch.optim.RMSprop(model.parameters(), lr=self.get("learning_rate"),
                                        alpha=self.get("rmsprop_alpha"), eps=self.get("rmsprop_eps"))
        lr = linear_or_constant(self.get("learning_rate"), self.get("anneal_lr"), self.get("total_steps"))
        trainer = Trainer(optimizer, lr, self.get("max_grad_norm"))
        loss = A2CLoss(self.policy, self.get("value_coef"), self.get("entropy_coef"),
                       self.get("normalize_advantages"))
        return Alg(runner, trainer, loss, self.summary, {"model": model, "optimizer": optimizer})
