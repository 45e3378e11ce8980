"""derl: deep reinforcement learning on PyTorch; algorithms are plugins.

Importing `derl_core` is cheap: torch-backed names (Policy, EnvRunner, Alg, ...) load on first use, so plugin
discovery and `derl list` never import torch.
"""
from .errors import BadInput
from .hookspecs import hookimpl, hookspec
from .spec import PLUGIN_API, AlgorithmSpec, EncoderSpec, EnvFamilySpec, Hyperparameter, hp

__version__ = "0.2.0"

# the kit plugins build on (derl_core/rl/): one line, `from derl_core import Alg, EnvRunner, ...`
_LAZY = {
    "Policy": "rl.policy", "ActorCriticPolicy": "rl.policy", "EpsilonGreedyPolicy": "rl.policy",
    "masked": "rl.policy", "action_mask": "rl.policy",
    "PolicyStep": "rl.policy", "Evaluation": "rl.policy", "actor_critic_policy": "rl.policy",
    "CategoricalLogits": "rl.policy", "DiagGaussian": "rl.policy", "as_tensor": "rl.policy",
    "EnvRunner": "rl.rollout", "Clock": "rl.rollout", "Rollout": "rl.rollout", "RolloutBatch": "rl.rollout",
    "OnPolicyData": "rl.rollout", "gae": "rl.rollout", "explained_variance": "rl.rollout",
    "EnvError": "rl.rollout",
    "ExperienceReplay": "rl.replay", "ReplayStorage": "rl.replay", "ReplayBatch": "rl.replay",
    "SumTree": "rl.replay",
    "Alg": "rl.alg", "AlgLoss": "rl.alg", "Trainer": "rl.alg", "CopyTarget": "rl.alg",
    "soft_update": "rl.alg", "clip_grad_norm": "rl.alg",
    # plugin API 3: what SAC and TD3 share
    "Every": "rl.alg", "DelayedCallback": "rl.alg", "PolyakUpdate": "rl.alg", "BoxActions": "rl.policy",
    "TwinQ": "rl.models", "HindsightRelabel": "rl.her",
    "NonFiniteError": "rl.alg",
    "Factory": "rl.factory",
    "Schedule": "rl.schedules", "Linear": "rl.schedules", "Constant": "rl.schedules",
    "linear_or_constant": "rl.schedules",
    "make_model": "rl.models", "make_torso": "rl.models", "mlp": "rl.models", "NatureCNN": "rl.models",
    "init_orthogonal": "rl.models", "custom_model": "rl.models",
    "Summary": "run.summary",
    # the app's Python API: a trained policy in your hands
    "load": "run.agent", "Agent": "run.agent", "train": "run.api",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'derl_core' has no attribute {name!r}")


__all__ = ["BadInput", "hookimpl", "hookspec", "AlgorithmSpec", "EncoderSpec", "EnvFamilySpec", "Hyperparameter", "hp", "PLUGIN_API",
           *_LAZY]
