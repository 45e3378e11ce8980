"""Policy wraps a torch.nn.Module and has two calls, each with one return type:

* `act(obs, deterministic=False) -> PolicyStep`: numpy actions for the env (and what a rollout keeps of the
  prediction: log-probabilities, values), no gradients;
* `evaluate(obs, actions) -> Evaluation` (actor-critic policies): tensors for the loss, with gradients.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch.distributions import Distribution

from .models import make_model
from .spaces import tree_map

Distribution.set_default_validate_args(False)   # validation costs more than the forward pass on small nets


@dataclass
class PolicyStep:
    """What `Policy.act` returns for a batch of observations (numpy; None where a policy has no such value)."""
    actions: np.ndarray
    log_prob: np.ndarray | None = None
    values: np.ndarray | None = None


@dataclass
class Evaluation:
    """What `ActorCriticPolicy.evaluate` returns for a batch of (observations, actions): tensors with gradients."""
    log_prob: torch.Tensor
    entropy: torch.Tensor
    values: torch.Tensor


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


class MultiCategorical:
    """Independent categoricals side by side (MultiDiscrete, MultiBinary actions): logits of `nvec[i]` choices
    for dimension i; actions (B, len(nvec)); log_prob and entropy sum over the dimensions."""

    def __init__(self, logits, nvec):
        self.parts = [CategoricalLogits(part) for part in torch.split(logits, list(nvec), -1)]

    def sample(self):
        return torch.stack([p.sample() for p in self.parts], -1)

    def log_prob(self, actions):
        return sum(p.log_prob(actions[..., i]) for i, p in enumerate(self.parts))

    def entropy(self):
        return sum(p.entropy() for p in self.parts)

    def mode(self):
        return torch.stack([p.mode() for p in self.parts], -1)


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
    """numpy or torch -> torch on `device`; float64 becomes float32 (MuJoCo observations are float64).
    Dict and Tuple observations (dicts, tuples of arrays) become dicts, tuples of tensors."""
    if isinstance(x, (dict, tuple)):
        return tree_map(lambda leaf: as_tensor(leaf, device), x)
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.dtype == torch.float64:
        t = t.float()
    return t.to(device)


def to_numpy(*tensors, pack: bool | None = None) -> tuple:
    """numpy copies of tensors of one batch: free on the CPU (shared memory); from a GPU, packed into one
    float64 tensor for a single device-to-host copy (one sync per env step, not one per tensor), then split
    and cast back (exact: actions, log-probabilities and values are float32 or small integers). `pack`:
    None packs when a tensor is off the CPU."""
    if pack is None:
        pack = any(t.device.type != "cpu" for t in tensors)
    if not pack:
        return tuple(t.numpy() for t in tensors)
    n = tensors[0].shape[0]
    packed = torch.cat([t.reshape(n, -1).double() for t in tensors], 1).cpu().numpy()
    out, at = [], 0
    for t in tensors:
        width = t[0].numel() if t.dim() else 1
        out.append(packed[:, at:at + width].reshape(t.shape).astype(TO_NUMPY[t.dtype]))
        at += width
    return tuple(out)


TO_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16, torch.int64: np.int64,
            torch.int32: np.int32, torch.int8: np.int8, torch.uint8: np.uint8, torch.bool: np.bool_}


from ..spec import ACTION_MASK as MASK   # the observation key of action masks (env/masks.py)


def action_mask(obs):
    """The bool action mask (B, n) an observation batch carries under "action_mask", or None."""
    if isinstance(obs, dict) and MASK in obs:
        return torch.as_tensor(obs[MASK]).bool()
    return None


def masked(scores: torch.Tensor, obs, fill: float = float("-inf")) -> torch.Tensor:
    """`scores` (B, n: logits, Q-values) with the invalid actions of `obs`'s mask set to `fill`; as they are
    without a mask. A row with no valid action keeps its scores (the env's mask is wrong, not the policy)."""
    mask = action_mask(obs)
    if mask is None:
        return scores
    mask = mask.to(scores.device) | ~mask.any(-1, keepdim=True)
    return scores.masked_fill(~mask, fill)


class Policy:
    """Wraps `model`; subclasses implement `act`. A policy with RNG state defines state_dict/load_state_dict
    (the core checkpoints it)."""

    def __init__(self, model: torch.nn.Module, device="cpu"):
        self.model = model
        self.device = torch.device(device)

    def to_tensor(self, obs):
        return as_tensor(obs, self.device)

    def act(self, obs, deterministic: bool = False) -> PolicyStep:
        raise NotImplementedError

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic policy actions for a batch of observation tensors, as a tensor and in torch ops
        only (what `derl export` traces). Optional: a policy without it cannot be exported."""
        raise NotImplementedError


class BoxActions:
    """Actions in [-1, 1] (a tanh actor's) to a finite Box's bounds and back: SAC's and TD3's policies."""

    def __init__(self, action_space):
        self.low, self.high = np.asarray(action_space.low), np.asarray(action_space.high)

    def scale(self, a: np.ndarray) -> np.ndarray:
        return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(self.low.dtype)

    def scale_tensor(self, a: torch.Tensor) -> torch.Tensor:
        low, high = torch.as_tensor(self.low, device=a.device), torch.as_tensor(self.high, device=a.device)
        return low + (a + 1.0) * 0.5 * (high - low)

    def unscale(self, actions: torch.Tensor) -> torch.Tensor:
        low = torch.as_tensor(self.low, device=actions.device)
        high = torch.as_tensor(self.high, device=actions.device)
        return 2.0 * (actions - low) / (high - low) - 1.0


class ActorCriticPolicy(Policy):
    """For a model returning (logits or Gaussian mean, value): Categorical or diagonal Gaussian."""

    def distribution(self, head, obs=None):
        """The action distribution of the model's head; categorical logits of actions `obs`'s mask rules out
        are set to -1e8 (no probability, no entropy, a finite log-softmax)."""
        if getattr(self.model, "continuous", False):
            return DiagGaussian(head, self.model.log_std)
        head = masked(head, obs, -1e8)
        if getattr(self.model, "action_nvec", None) is not None:
            return MultiCategorical(head, self.model.action_nvec)
        return CategoricalLogits(head)

    def act(self, obs, deterministic: bool = False) -> PolicyStep:
        """One forward pass, the action drawn, and one transfer to the host (the only wait for a GPU)."""
        with torch.inference_mode():
            obs = self.to_tensor(obs)
            head, values = self.model(obs)
            dist = self.distribution(head, obs)
            actions = dist.mode() if deterministic else dist.sample()
            return PolicyStep(*to_numpy(actions, dist.log_prob(actions), values))

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.distribution(self.model(obs)[0], obs).mode()

    def evaluate(self, obs, actions) -> Evaluation:
        obs = self.to_tensor(obs)
        head, values = self.model(obs)
        dist = self.distribution(head, obs)   # the rollout's masks: the loss never moves an invalid action
        return Evaluation(dist.log_prob(actions), dist.entropy(), values)

    def values(self, obs) -> np.ndarray:
        with torch.inference_mode():
            return self.model(self.to_tensor(obs))[1].cpu().numpy()


def actor_critic_policy(env, device="cpu", shared=True, hidden=None, activation="tanh",
                        orthogonal=True, **model_options) -> ActorCriticPolicy:
    """The default actor-critic policy for a vector env's spaces (A2C, PPO); `hidden=None` is --net-arch
    auto, `model_options` the rest of Factory.model_options() (see models.ActorCritic)."""
    custom = model_options.pop("model", "auto")
    if custom != "auto":   # --model module:callable (models.custom_model checks its outputs)
        from .models import custom_model
        options = dict(model_options, hidden=hidden, activation=activation, shared=shared, orthogonal=orthogonal)
        model = custom_model(custom, env.single_observation_space, env.single_action_space, options,
                             "actor_critic").to(device)
        return ActorCriticPolicy(model, device)
    model = make_model(env.single_observation_space, env.single_action_space, hidden=hidden,
                       activation=activation, shared=shared, orthogonal=orthogonal, **model_options).to(device)
    return ActorCriticPolicy(model, device)


class EpsilonGreedyPolicy(Policy):
    """For a model returning Q-values: greedy actions, each env's replaced by a random one with probability
    epsilon(step); `deterministic=True` is greedy."""

    EVAL_EPSILON = 0.001   # what `derl eval` uses unless --deterministic (Rainbow's evaluation epsilon)

    def __init__(self, model, num_actions: int, epsilon, clock, device="cpu", seed=None):
        super().__init__(model, device)
        self.num_actions, self.epsilon, self.clock = num_actions, epsilon, clock
        self.rng = np.random.default_rng(seed)

    def act(self, obs, deterministic: bool = False) -> PolicyStep:
        with torch.inference_mode():
            obs = self.to_tensor(obs)
            actions = masked(self.model(obs), obs).argmax(-1).cpu().numpy()
        eps = 0.0 if deterministic else self.epsilon(self.clock())
        if eps > 0:
            explore = self.rng.random(len(actions)) < eps
            mask = action_mask(obs)
            if mask is None:
                random = self.rng.integers(self.num_actions, size=len(actions))
            else:   # uniform over each env's valid actions
                mask = mask.cpu().numpy() | ~mask.cpu().numpy().any(-1, keepdims=True)
                random = (self.rng.random(mask.shape) * mask).argmax(-1)
            actions = np.where(explore, random, actions)
        return PolicyStep(actions)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return masked(self.model(obs), obs).argmax(-1)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict):
        self.rng.bit_generator.state = state["rng"]
