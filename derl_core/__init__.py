"""derl: deep reinforcement learning on PyTorch; algorithms are plugins.

Importing `derl_core` is cheap: torch-backed names (Policy, EnvRunner, Alg, ...) load on first use, so plugin
discovery and `derl list` never import torch.
"""
from .errors import BadInput
from .hookspecs import hookimpl, hookspec
from .spec import AlgorithmSpec, EnvFamilySpec, Hyperparameter, hp

__version__ = "0.2.0"

_LAZY = {
    "Policy": "policy", "ActorCriticPolicy": "policy",
    "EnvRunner": "runners", "EnvRunnerWrapper": "runners", "TransformInteractions": "runners",
    "GAE": "runners", "MergeTimeBatch": "runners", "IterateWithMinibatches": "runners",
    "Alg": "alg", "AlgLoss": "alg", "Trainer": "alg", "NonFiniteError": "alg",
    "Factory": "factory",
    "Linear": "schedules", "Constant": "schedules",
    "make_model": "models",
    "ExperienceReplay": "replay", "ReplayStorage": "replay", "SumTree": "replay",
    "Summary": "summary",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'derl_core' has no attribute {name!r}")


__all__ = ["BadInput", "hookimpl", "hookspec", "AlgorithmSpec", "EnvFamilySpec", "Hyperparameter", "hp",
           *_LAZY]
