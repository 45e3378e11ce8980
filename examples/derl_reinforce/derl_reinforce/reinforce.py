"""REINFORCE with a learned baseline (Williams 1992), a whole-episode algorithm:

  EnvRunner (rollouts of nsteps) -> CompleteEpisodes, a data source (keeps each env's transitions until its
  episode ends, then G_t = r_t + gamma G_{t+1}; one batch once min_episodes have ended) -> ReinforceLoss -> Adam

A truncated episode is treated as ended: Monte-Carlo returns have nothing to bootstrap from.
CompleteEpisodes holds state between rollouts (the unfinished episodes): it exposes state_dict() and
load_state_dict(), and the core checkpoints a data source that does, so a resumed run continues exactly.
"""
from dataclasses import dataclass

import numpy as np
import torch

from derl_core import Alg, EnvRunner, Factory, Trainer, actor_critic_policy, as_tensor

KEYS = ("observations", "actions", "rewards")


def returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    out, g = np.empty(len(rewards), np.float32), 0.0
    for t in reversed(range(len(rewards))):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


@dataclass
class EpisodesBatch:
    observations: torch.Tensor
    actions: torch.Tensor
    returns: torch.Tensor


class CompleteEpisodes:
    def __init__(self, runner, gamma: float, min_episodes: int, device="cpu"):
        self.runner, self.gamma, self.min_episodes, self.device = runner, gamma, min_episodes, device
        self.partial = [{k: [] for k in KEYS} for _ in range(runner.num_envs)]   # per env: arrays so far
        self.finished = []                                                      # episodes: dicts of arrays

    def batches(self):
        rollout = self.runner.collect()
        ends = rollout.terminated | rollout.truncated
        for i, part in enumerate(self.partial):
            start = 0
            for t in list(np.flatnonzero(ends[:, i])) + [None]:
                stop = None if t is None else t + 1
                for k in KEYS:
                    part[k].append(getattr(rollout, k)[start:stop, i])
                if t is not None:
                    episode = {k: np.concatenate(part[k]) for k in KEYS}
                    episode["returns"] = returns_to_go(episode["rewards"].astype(np.float32), self.gamma)
                    self.finished.append(episode)
                    for k in KEYS:
                        part[k].clear()
                    start = stop
        if len(self.finished) >= self.min_episodes:
            joined = (lambda k: as_tensor(np.concatenate([e[k] for e in self.finished]), self.device))
            batch = EpisodesBatch(joined("observations"), joined("actions"), joined("returns"))
            self.finished = []
            yield batch

    def state_dict(self) -> dict:
        partial = [{k: np.concatenate(p[k]) if p[k] else np.zeros(0) for k in KEYS} for p in self.partial]
        return {"partial": partial, "finished": self.finished}

    def load_state_dict(self, state: dict):
        self.partial = [{k: [p[k]] if len(p[k]) else [] for k in KEYS} for p in state["partial"]]
        self.finished = [dict(e) for e in state["finished"]]


class ReinforceLoss:
    def __init__(self, policy, value_coef):
        self.policy, self.value_coef = policy, value_coef

    def __call__(self, batch, extras=None):
        new = self.policy.evaluate(batch.observations, batch.actions)
        returns, values = batch.returns, new.values
        advantages = returns - values.detach()
        policy_loss = -(advantages * new.log_prob).mean()
        value_loss = (values - returns).pow(2).mean()
        return policy_loss + self.value_coef * value_loss, {"losses/policy_loss": policy_loss.detach(),
                                                            "losses/value_loss": value_loss.detach()}


class ReinforceFactory(Factory):
    def build(self, env):
        policy = actor_critic_policy(env, self.device, shared=False)
        runner = EnvRunner(env, policy, self.get("nsteps"), self.seed, self.summary, self.clock)
        data = CompleteEpisodes(runner, self.get("gamma"), self.get("min_episodes"), self.device)
        optimizer = torch.optim.Adam(policy.model.parameters(), lr=self.get("learning_rate"))
        loss = ReinforceLoss(policy, self.get("value_coef"))
        return Alg(runner, data, [(loss, Trainer(optimizer, self.get("learning_rate")))], self.summary,
                   {"model": policy.model, "optimizer": optimizer})
