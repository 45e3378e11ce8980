"""Vanilla policy gradient with a value baseline, from derl's parts:

  EnvRunner -> GAE -> merged batch -> FooLoss (policy gradient + value regression) -> Adam
"""
import torch

from derl_core import Alg, AlgLoss, Factory, Trainer
from derl_core.builders import actor_critic_policy, on_policy_runner


class FooLoss(AlgLoss):
    def __init__(self, policy, value_coef):
        self.policy, self.value_coef = policy, value_coef

    def __call__(self, batch):
        out = self.policy.act(batch["observations"], training=True)
        policy_loss = -(batch["advantages"] * out["distribution"].log_prob(batch["actions"])).mean()
        value_loss = (out["values"] - batch["value_targets"]).pow(2).mean()
        loss = policy_loss + self.value_coef * value_loss
        return loss, {"losses/policy_loss": policy_loss.detach(), "losses/value_loss": value_loss.detach()}


class FooFactory(Factory):
    def make_runner(self, env):
        self.policy = actor_critic_policy(env, self.device)
        return on_policy_runner(env, self.policy, nsteps=self.get("nsteps"), gamma=self.get("gamma"),
                                lambda_=self.get("gae_lambda"), device=self.device, seed=self.seed,
                                summary=self.summary, clock=self.clock)

    def make_alg(self, runner):
        model = self.policy.model
        optimizer = torch.optim.Adam(model.parameters(), lr=self.get("learning_rate"))
        return Alg(runner, Trainer(optimizer, self.get("learning_rate")),
                   FooLoss(self.policy, self.get("value_coef")), self.summary,
                   {"model": model, "optimizer": optimizer})
