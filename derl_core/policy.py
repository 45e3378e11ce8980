"""Policy wraps a torch.nn.Module. `act(obs)` returns numpy predictions for rollouts;
`act(obs, training=True)` returns tensors and distributions for the loss."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.distributions import Distribution

Distribution.set_default_validate_args(False)   # validation costs more than the forward pass on small nets


class CategoricalLogits:
    """Categorical over the last axis of `logits`: the methods a loss needs, in a few tensor ops
    (torch.distributions.Categorical costs twice as much per update on small nets)."""

    def __init__(self, logits):
        self.log_probs = logits.log_softmax(-1)

    def sample(self):
        return torch.multinomial(self.log_probs.exp(), 1).squeeze(-1)

    def log_prob(self, actions):
        return self.log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self):
        return -(self.log_probs.exp() * self.log_probs).sum(-1)

    def mode(self):
        return self.log_probs.argmax(-1)


class DiagGaussian:
    """Diagonal Gaussian; log_prob and entropy sum over the action dimensions."""

    def __init__(self, mean, log_std):
        self.mean, self.log_std = mean, log_std.expand_as(mean)

    def sample(self):
        with torch.no_grad():
            return self.mean + self.log_std.exp() * torch.randn_like(self.mean)

    def log_prob(self, actions):
        z = (actions - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z * z - self.log_std).sum(-1) - 0.5 * math.log(2 * math.pi) * self.mean.shape[-1]

    def entropy(self):
        return (self.log_std + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)

    def mode(self):
        return self.mean


def as_tensor(x, device="cpu") -> torch.Tensor:
    """numpy or torch -> torch on `device`; float64 becomes float32 (MuJoCo observations are float64)."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype == torch.float64:
        t = t.float()
    return t.to(device)


class Policy:
    def __init__(self, model: torch.nn.Module, device="cpu"):
        self.model = model
        self.device = torch.device(device)

    def to_tensor(self, obs):
        return as_tensor(obs, self.device)

    def act(self, obs, training=False) -> dict:
        raise NotImplementedError


class ActorCriticPolicy(Policy):
    """For a model returning (logits or Gaussian mean, value): Categorical or diagonal Gaussian."""

    def distribution(self, head):
        if getattr(self.model, "continuous", False):
            return DiagGaussian(head, self.model.log_std)
        return CategoricalLogits(head)

    def act(self, obs, training=False) -> dict:
        obs = self.to_tensor(obs)
        if training:
            head, values = self.model(obs)
            return {"distribution": self.distribution(head), "values": values}
        with torch.inference_mode():
            head, values = self.model(obs)
            dist = self.distribution(head)
            actions = dist.sample()
            return {"actions": actions.cpu().numpy(), "log_prob": dist.log_prob(actions).cpu().numpy(),
                    "values": values.cpu().numpy()}

    def values(self, obs) -> np.ndarray:
        with torch.inference_mode():
            return self.model(self.to_tensor(obs))[1].cpu().numpy()

    def deterministic_actions(self, obs) -> np.ndarray:
        with torch.inference_mode():
            head, _ = self.model(self.to_tensor(obs))
            actions = head if getattr(self.model, "continuous", False) else head.argmax(-1)
            return actions.cpu().numpy()


class EpsilonGreedyPolicy(Policy):
    """For a model returning Q-values: greedy actions, each env's replaced by a random one with probability
    epsilon(step). `training=True` returns {"q_values": tensor}."""

    EVAL_EPSILON = 0.001   # what `derl eval` uses unless --deterministic (Rainbow's evaluation epsilon)

    def __init__(self, model, num_actions: int, epsilon, clock, device="cpu", seed=None):
        super().__init__(model, device)
        self.num_actions, self.epsilon, self.clock = num_actions, epsilon, clock
        self.rng = np.random.default_rng(seed)

    def act(self, obs, training=False) -> dict:
        obs = self.to_tensor(obs)
        if training:
            return {"q_values": self.model(obs)}
        with torch.inference_mode():
            actions = self.model(obs).argmax(-1).cpu().numpy()
        eps = self.epsilon(self.clock())
        if eps > 0:
            explore = self.rng.random(len(actions)) < eps
            actions = np.where(explore, self.rng.integers(self.num_actions, size=len(actions)), actions)
        return {"actions": actions}

    def deterministic_actions(self, obs) -> np.ndarray:
        with torch.inference_mode():
            return self.model(self.to_tensor(obs)).argmax(-1).cpu().numpy()

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict):
        self.rng.bit_generator.state = state["rng"]
