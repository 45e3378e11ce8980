"""A2C (Mnih et al. 2016, synchronous): one gradient step per rollout.

  EnvRunner rollout -> OnPolicyData (GAE with lambda 1: n-step returns; the whole rollout) -> A2CLoss -> RMSprop
"""
import torch

from derl_core import (Alg, EnvRunner, Factory, OnPolicyData, Trainer, actor_critic_policy, explained_variance,
                       linear_or_constant)


class A2CLoss:
    def __init__(self, policy, value_coef, entropy_coef, normalize_advantages=False):
        self.policy, self.value_coef, self.entropy_coef = policy, value_coef, entropy_coef
        self.normalize_advantages = normalize_advantages

    def __call__(self, batch, extras=None):
        new = self.policy.evaluate(batch.observations, batch.actions)
        advantages = batch.advantages
        if self.normalize_advantages and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -(advantages * new.log_prob).mean()
        value_loss = (new.values - batch.value_targets).pow(2).mean()
        entropy = new.entropy.mean()
        loss = policy_loss + self.value_coef * value_loss - self.entropy_coef * entropy
        stats = {"losses/policy_loss": policy_loss.detach(), "losses/value_loss": value_loss.detach(),
                 "losses/entropy": entropy.detach(),
                 "losses/explained_variance": explained_variance(batch.values, batch.value_targets)}
        return loss, stats


class A2CFactory(Factory):
    def build(self, env):
        policy = actor_critic_policy(env, self.device, shared=self.get("shared_torso"), **self.model_options())
        runner = EnvRunner(env, policy, self.get("nsteps"), self.seed, self.summary, self.clock)
        data = OnPolicyData(runner, policy, self.get("gamma"), self.get("gae_lambda"), device=self.device)
        optimizer = torch.optim.RMSprop(policy.model.parameters(), lr=self.get("learning_rate"),
                                        alpha=self.get("rmsprop_alpha"), eps=self.get("rmsprop_eps"))
        lr = linear_or_constant(self.get("learning_rate"), self.get("anneal_lr"), self.get("total_steps"))
        loss = A2CLoss(policy, self.get("value_coef"), self.get("entropy_coef"), self.get("normalize_advantages"))
        return Alg(runner, data, [(loss, Trainer(optimizer, lr, self.get("max_grad_norm")))], self.summary,
                   {"model": policy.model, "optimizer": optimizer})
