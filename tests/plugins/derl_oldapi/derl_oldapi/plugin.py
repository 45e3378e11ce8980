"""derl-reinforce exactly as written for plugin API 1 (derl 0.2), kept to test the version message (no torch)."""
from derl_core import hookimpl
from derl_core.spec import AlgorithmSpec, hp

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 4, 1, 256),
    hp("total_steps", int, "env steps", 100_000, 1, None),
    hp("nsteps", int, "steps per env per rollout (episodes span rollouts)", 32, 1, None),
    hp("min_episodes", int, "whole episodes per update", 4, 1, None),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("learning_rate", float, "Adam learning rate", 1e-3, 0, None),
    hp("value_coef", float, "baseline (value) loss coefficient", 0.5, 0, None),
]


def check(h: dict):
    if h["min_episodes"] > h["total_steps"]:
        return f"--min-episodes {h['min_episodes']} cannot end within --total-steps {h['total_steps']}"
    return None


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        name="oldreinforce", summary="REINFORCE: Monte-Carlo returns of whole episodes, a learned baseline",
        factory="derl_oldapi.reinforce:ReinforceFactory", hyperparameters=HYPERPARAMETERS, check=check))
