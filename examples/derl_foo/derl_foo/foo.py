"""Vanilla policy gradient with a value baseline, from derl's parts:

  EnvRunner -> OnPolicyData (GAE, the whole rollout) -> FooLoss (policy gradient + value regression) -> Adam
"""
import torch

from derl_core import Alg, EnvRunner, Factory, OnPolicyData, Trainer, actor_critic_policy


class FooLoss:
    def __init__(self, policy, value_coef):
        self.policy, self.value_coef = policy, value_coef

    def __call__(self, batch, extras=None):
        new = self.policy.evaluate(batch.observations, batch.actions)
        policy_loss = -(batch.advantages * new.log_prob).mean()
        value_loss = (new.values - batch.value_targets).pow(2).mean()
        loss = policy_loss + self.value_coef * value_loss
        return loss, {"losses/policy_loss": policy_loss.detach(), "losses/value_loss": value_loss.detach()}


class FooFactory(Factory):
    def build(self, env):
        policy = actor_critic_policy(env, self.device)
        runner = EnvRunner(env, policy, self.get("nsteps"), self.seed, self.summary, self.clock)
        data = OnPolicyData(runner, policy, self.get("gamma"), self.get("gae_lambda"), device=self.device)
        optimizer = torch.optim.Adam(policy.model.parameters(), lr=self.get("learning_rate"))
        trainer = Trainer(optimizer, self.get("learning_rate"))
        return Alg(runner, data, [(FooLoss(policy, self.get("value_coef")), trainer)], self.summary,
                   {"model": policy.model, "optimizer": optimizer})
