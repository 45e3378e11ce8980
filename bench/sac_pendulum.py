"""derl SAC vs Stable-Baselines3 SAC on Pendulum-v1: same hyperparameters (rl-zoo's: lr 1e-3, 256-256,
batch 256, learning starts 100, one gradient step per env step), 10k steps.

    python bench/sac_pendulum.py [--seeds 1 2 3] [--steps 10000]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_derl, child_sb3, main  # noqa: E402


def sb3_model(seed):
    from stable_baselines3 import SAC
    return SAC("MlpPolicy", "Pendulum-v1", learning_rate=1e-3, learning_starts=100, batch_size=256,
               buffer_size=1_000_000, seed=seed, device="cpu", verbose=0)


if __name__ == "__main__":
    main(__file__, {
        "derl-sac": lambda seed, steps: child_derl("sac", "Pendulum-v1", seed, {"total_steps": steps}),
        "sb3-sac": lambda seed, steps: child_sb3(sb3_model, steps, seed),
    }, 10_000)
