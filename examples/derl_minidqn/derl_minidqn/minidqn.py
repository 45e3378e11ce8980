"""The smallest DQN, on derl's experience replay:

  EnvRunner (epsilon-greedy) -> ExperienceReplay (uniform, 1-step) -> batches -> TDLoss (MSE) -> Adam
  -> after each step: the core's CopyTarget every target_every gradient steps

Everything with state (the replay, the target copy's counter, the policy's RNG, the runner) is checkpointed:
the replay and the counter because they are listed, the rest because the core finds it.
"""
import copy

import torch
import torch.nn.functional as F

from derl_core import Alg, AlgLoss, EnvRunner, Factory, Trainer
from derl_core.alg import CopyTarget
from derl_core.models import make_torso
from derl_core.policy import EpsilonGreedyPolicy
from derl_core.replay import ExperienceReplay, ReplayStorage
from derl_core.schedules import Linear


class QNet(torch.nn.Module):
    def __init__(self, observation_space, num_actions):
        super().__init__()
        self.torso = make_torso(observation_space, (64, 64), "relu")
        self.head = torch.nn.Linear(self.torso.out_features, num_actions)

    def forward(self, obs):
        return self.head(self.torso(obs))


class TDLoss(AlgLoss):
    def __init__(self, model, target):
        self.model, self.target = model, target

    def __call__(self, batch):
        q = self.model(batch["observations"]).gather(1, batch["actions"].long().unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q = self.target(batch["next_observations"]).max(1).values
            targets = batch["rewards"] + batch["discounts"] * next_q   # discounts: 0 where terminated
        loss = F.mse_loss(q, targets)
        return loss, {"losses/td_loss": loss.detach(), "losses/q_values": q.detach().mean()}


class MiniDQNFactory(Factory):
    def make_runner(self, env):
        n = int(env.single_action_space.n)
        model = QNet(env.single_observation_space, n).to(self.device)
        epsilon = Linear(1.0, 0.05, self.get("epsilon_steps"))
        self.policy = EpsilonGreedyPolicy(model, n, epsilon, self.clock, device=self.device, seed=self.seed)
        runner = EnvRunner(env, self.policy, max(1, self.get("train_every") // env.num_envs), seed=self.seed,
                           summary=self.summary, clock=self.clock)
        self.storage = ReplayStorage(self.get("buffer_size"), env.num_envs, env.single_observation_space,
                                     env.single_action_space, nstep=1, gamma=self.get("gamma"), seed=self.seed)
        return ExperienceReplay(runner, self.storage, self.get("batch_size"), self.get("learning_starts"),
                                device=self.device)

    def make_alg(self, runner):
        model = self.policy.model
        target = copy.deepcopy(model).requires_grad_(False)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.get("learning_rate"))
        copy_target = CopyTarget(model, target, self.get("target_every"))
        return Alg(runner, Trainer(optimizer, self.get("learning_rate")), TDLoss(model, target), self.summary,
                   {"model": model, "target": target, "optimizer": optimizer, "replay": self.storage,
                    "target_copy": copy_target}, after_update=[copy_target])
