"""REINFORCE with a learned baseline (Williams 1992), a whole-episode algorithm:

  EnvRunner (rollouts of nsteps) -> CompleteEpisodes (keeps each env's transitions until its episode ends,
  then G_t = r_t + gamma G_{t+1}; yields once min_episodes have ended) -> ReinforceLoss -> Adam

A truncated episode is treated as ended: Monte-Carlo returns have nothing to bootstrap from.
CompleteEpisodes holds state between rollouts (the unfinished episodes): it exposes state_dict() and
load_state_dict(), and the core checkpoints it, so a resumed run continues exactly.
"""
import numpy as np
import torch

from derl_core import Alg, AlgLoss, EnvRunner, EnvRunnerWrapper, Factory, Trainer
from derl_core.builders import actor_critic_policy
from derl_core.policy import as_tensor

KEYS = ("observations", "actions", "rewards")


def returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    out, g = np.empty(len(rewards), np.float32), 0.0
    for t in reversed(range(len(rewards))):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


class CompleteEpisodes(EnvRunnerWrapper):
    def __init__(self, runner, gamma: float, min_episodes: int, device="cpu"):
        super().__init__(runner)
        self.gamma, self.min_episodes, self.device = gamma, min_episodes, device
        self.partial = [{k: [] for k in KEYS} for _ in range(runner.num_envs)]   # per env: arrays so far
        self.finished = []                                                      # episodes: dicts of arrays

    def run(self):
        for rollout in self.runner.run():
            ends = rollout["terminated"] | rollout["truncated"]
            for i, part in enumerate(self.partial):
                start = 0
                for t in list(np.flatnonzero(ends[:, i])) + [None]:
                    stop = None if t is None else t + 1
                    for k in KEYS:
                        part[k].append(rollout[k][start:stop, i])
                    if t is not None:
                        episode = {k: np.concatenate(part[k]) for k in KEYS}
                        episode["returns"] = returns_to_go(episode["rewards"].astype(np.float32), self.gamma)
                        self.finished.append(episode)
                        for k in KEYS:
                            part[k].clear()
                        start = stop
            if len(self.finished) < self.min_episodes:
                yield None
                continue
            batch = {k: as_tensor(np.concatenate([e[k] for e in self.finished]), self.device)
                     for k in ("observations", "actions", "returns")}
            self.finished = []
            yield batch

    def state_dict(self) -> dict:
        partial = [{k: np.concatenate(p[k]) if p[k] else np.zeros(0) for k in KEYS} for p in self.partial]
        return {"partial": partial, "finished": self.finished}

    def load_state_dict(self, state: dict):
        self.partial = [{k: [p[k]] if len(p[k]) else [] for k in KEYS} for p in state["partial"]]
        self.finished = [dict(e) for e in state["finished"]]


class ReinforceLoss(AlgLoss):
    def __init__(self, policy, value_coef):
        self.policy, self.value_coef = policy, value_coef

    def __call__(self, batch):
        out = self.policy.act(batch["observations"], training=True)
        returns, values = batch["returns"], out["values"]
        advantages = returns - values.detach()
        policy_loss = -(advantages * out["distribution"].log_prob(batch["actions"])).mean()
        value_loss = (values - returns).pow(2).mean()
        return policy_loss + self.value_coef * value_loss, {"losses/policy_loss": policy_loss.detach(),
                                                            "losses/value_loss": value_loss.detach()}


class ReinforceFactory(Factory):
    def make_runner(self, env):
        self.policy = actor_critic_policy(env, self.device, shared=False)
        runner = EnvRunner(env, self.policy, self.get("nsteps"), seed=self.seed, summary=self.summary,
                           clock=self.clock)
        return CompleteEpisodes(runner, self.get("gamma"), self.get("min_episodes"), self.device)

    def make_alg(self, runner):
        model = self.policy.model
        optimizer = torch.optim.Adam(model.parameters(), lr=self.get("learning_rate"))
        return Alg(runner, Trainer(optimizer, self.get("learning_rate")),
                   ReinforceLoss(self.policy, self.get("value_coef")), self.summary,
                   {"model": model, "optimizer": optimizer})
