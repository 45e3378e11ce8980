"""Pieces several algorithms assemble the same way, so that no plugin copies another's code."""
from __future__ import annotations

from .models import make_model
from .policy import ActorCriticPolicy
from .runners import GAE, EnvRunner, MergeTimeBatch, TransformInteractions


def actor_critic_policy(env, device="cpu", shared=True, hidden=(64, 64), activation="tanh",
                        orthogonal=True) -> ActorCriticPolicy:
    model = make_model(env.single_observation_space, env.single_action_space, hidden=hidden,
                       activation=activation, shared=shared, orthogonal=orthogonal).to(device)
    return ActorCriticPolicy(model, device)


def on_policy_runner(env, policy, nsteps, gamma, lambda_, device="cpu", seed=None, summary=None, clock=None):
    """EnvRunner -> GAE -> merged (T*N) torch batch: what actor-critic methods train on."""
    runner = EnvRunner(env, policy, nsteps, seed=seed, summary=summary, clock=clock)
    return TransformInteractions(runner, [GAE(policy, gamma, lambda_), MergeTimeBatch(device)])


def explained_variance(values, targets) -> float:
    var = targets.var()
    return float("nan") if var == 0 else float(1 - (targets - values).var() / var)
