"""PPO (Schulman et al. 2017), read top to bottom: the loss, then the wiring.

  EnvRunner rollout -> OnPolicyData (GAE, flatten, num_epochs x num_minibatches) -> PPOLoss -> Adam step
"""
import torch

from derl_core import (Alg, EnvRunner, Factory, OnPolicyData, Trainer, actor_critic_policy, explained_variance,
                       linear_or_constant)


def value_error(values, old_values, targets, clip=None):
    """Squared error of the new values; with a clip range, the larger of it and the error of the values clipped
    to old_values +- clip (CleanRL's and OpenAI baselines' form; SB3 takes the clipped error only)."""
    error = (values - targets).pow(2)
    if clip is None:
        return error
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return torch.max(error, (clipped - targets).pow(2))


class PPOLoss:
    def __init__(self, policy, clip_range, value_coef, entropy_coef, clip_value_loss=True,
                 normalize_advantages=True, clock=lambda: 0):
        self.policy, self.clip_range, self.clock = policy, clip_range, clock
        self.value_coef, self.entropy_coef = value_coef, entropy_coef
        self.clip_value_loss, self.normalize_advantages = clip_value_loss, normalize_advantages
        self._per_batch = (None, None)   # (advantages tensor, what follows from it and the old values alone)

    def rollout_terms(self, batch):
        """The normalised advantages and the explained variance: functions of the rollout's tensors alone. With
        one minibatch (classic PPO, A2C-sized) every epoch sees the same batch, so they are computed once."""
        source, terms = self._per_batch
        if source is not batch.advantages:
            advantages = batch.advantages
            if self.normalize_advantages and len(advantages) > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            terms = advantages, explained_variance(batch.values, batch.value_targets)
            self._per_batch = (batch.advantages, terms)
        return terms

    def __call__(self, batch, extras=None):
        clip = self.clip_range(self.clock())
        new = self.policy.evaluate(batch.observations, batch.actions)
        log_ratio = new.log_prob - batch.log_prob
        ratio = log_ratio.exp()

        advantages, ev = self.rollout_terms(batch)
        # -min(A r, A clip(r)) is max(-A r, -A clip(r)) exactly (negation is exact)
        policy_loss = -torch.min(advantages * ratio, advantages * ratio.clamp(1 - clip, 1 + clip)).mean()

        targets, old_values = batch.value_targets, batch.values
        value_loss = 0.5 * value_error(new.values, old_values, targets, clip if self.clip_value_loss else None).mean()

        loss = policy_loss + self.value_coef * value_loss
        if self.entropy_coef:   # with a zero coefficient the term adds exact zeros: leave it out of the graph
            entropy = new.entropy.mean()
            loss = loss - self.entropy_coef * entropy
        else:
            entropy = new.entropy.detach().mean()

        with torch.no_grad():
            stats = {
                "losses/policy_loss": policy_loss, "losses/value_loss": value_loss,
                "losses/entropy": entropy, "losses/approx_kl": ((ratio - 1) - log_ratio).mean(),
                "losses/clipfrac": ((ratio - 1).abs() > clip).float().mean(),
                "losses/explained_variance": ev,
                "charts/clip_range": clip,
            }
        return loss, stats


class PPOFactory(Factory):
    def build(self, env):
        total = self.get("total_steps")
        policy = actor_critic_policy(env, self.device, shared=self.get("shared_torso"), **self.model_options())
        runner = EnvRunner(env, policy, self.get("nsteps"), self.seed, self.summary, self.clock)
        data = OnPolicyData(runner, policy, self.get("gamma"), self.get("gae_lambda"), self.get("num_epochs"),
                            self.get("num_minibatches"), self.device)
        optimizer = torch.optim.Adam(policy.model.parameters(), lr=self.get("learning_rate"),
                                     eps=self.get("adam_eps"), fused=True)
        lr = linear_or_constant(self.get("learning_rate"), self.get("anneal_lr"), total)
        loss = PPOLoss(policy, linear_or_constant(self.get("clip_range"), self.get("anneal_clip_range"), total),
                       self.get("value_coef"), self.get("entropy_coef"), self.get("clip_value_loss"),
                       self.get("normalize_advantages"), clock=self.clock)
        return Alg(runner, data, [(loss, Trainer(optimizer, lr, self.get("max_grad_norm")))], self.summary,
                   {"model": policy.model, "optimizer": optimizer})
