"""Models for the --model tests: callables (observation_space, action_space, options) -> nn.Module."""
import numpy as np
import torch
from torch import nn


def n_outputs(action_space) -> int:
    if hasattr(action_space, "n"):
        return int(action_space.n)
    return int(np.prod(action_space.shape))


class TwoHeads(nn.Module):
    def __init__(self, obs_dim, n, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, width), nn.ReLU())
        self.pi, self.v = nn.Linear(width, n), nn.Linear(width, 1)

    def forward(self, obs):
        h = self.body(obs.flatten(1).float())
        return self.pi(h), self.v(h).squeeze(-1)


def actor_critic(observation_space, action_space, options):
    width = (options.get("hidden") or (32,))[0]
    return TwoHeads(int(np.prod(observation_space.shape)), n_outputs(action_space), width)


def q_network(observation_space, action_space, options):
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(observation_space.shape)), 32), nn.ReLU(),
                         nn.Linear(32, n_outputs(action_space)))


def no_values(observation_space, action_space, options):
    """Breaks the actor-critic contract: one output."""
    return q_network(observation_space, action_space, options)


def not_a_module(observation_space, action_space, options):
    return lambda obs: obs


def encoder_without_batch(in_channels, height, width):
    """An image encoder (derl_register_encoders) that breaks the contract: it sums the batch away."""
    class Summed(nn.Module):
        def forward(self, x):
            return x.sum()
    return Summed()
