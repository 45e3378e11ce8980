"""The smallest DQN, on derl's experience replay:

  EnvRunner (epsilon-greedy) -> ExperienceReplay (uniform, 1-step) -> batches -> TDLoss (MSE) -> Adam
  -> after each step: the core's CopyTarget every target_every gradient steps

Everything with state (the replay, the target copy's counter, the policy's RNG, the runner) is checkpointed:
the replay and the counter because they are listed, the rest because the core finds it.
"""
import copy

import torch
import torch.nn.functional as F

from derl_core import (Alg, CopyTarget, EnvRunner, EpsilonGreedyPolicy, ExperienceReplay, Factory, Linear,
                       ReplayStorage, Trainer, make_torso)


class QNet(torch.nn.Module):
    def __init__(self, observation_space, num_actions):
        super().__init__()
        self.torso = make_torso(observation_space, (64, 64), "relu")
        self.head = torch.nn.Linear(self.torso.out_features, num_actions)

    def forward(self, obs):
        return self.head(self.torso(obs))


class TDLoss:
    def __init__(self, model, target):
        self.model, self.target = model, target

    def __call__(self, batch, extras=None):
        q = self.model(batch.observations).gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q = self.target(batch.next_observations).max(1).values
            targets = batch.rewards + batch.discounts * next_q   # discounts: 0 where terminated
        loss = F.mse_loss(q, targets)
        return loss, {"losses/td_loss": loss.detach(), "losses/q_values": q.detach().mean()}


class MiniDQNFactory(Factory):
    def build(self, env):
        n = int(env.single_action_space.n)
        model = QNet(env.single_observation_space, n).to(self.device)
        epsilon = Linear(1.0, 0.05, self.get("epsilon_steps"))
        policy = EpsilonGreedyPolicy(model, n, epsilon, self.clock, device=self.device, seed=self.seed)
        runner = EnvRunner(env, policy, max(1, self.get("train_every") // env.num_envs), self.seed, self.summary,
                           self.clock)
        storage = ReplayStorage(self.get("buffer_size"), env.num_envs, env.single_observation_space,
                                env.single_action_space, nstep=1, gamma=self.get("gamma"), seed=self.seed,
                                frame_stack=getattr(env, "frame_stack", 1))   # derl's envs say
        data = ExperienceReplay(runner, storage, self.get("batch_size"), self.get("learning_starts"),
                                device=self.device)
        target = copy.deepcopy(model).requires_grad_(False)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.get("learning_rate"))
        copy_target = CopyTarget(model, target, self.get("target_every"))
        return Alg(runner, data, [(TDLoss(model, target), Trainer(optimizer, self.get("learning_rate")))],
                   self.summary, {"model": model, "target": target, "optimizer": optimizer, "replay": storage,
                                  "target_copy": copy_target}, after_update=[copy_target])
