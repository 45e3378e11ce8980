"""derl PPO vs Stable-Baselines3 PPO on CartPole-v1, same hyperparameters (rl-zoo's) and 100k steps.

    python bench/ppo_cartpole.py [--seeds 1 2 3]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_derl, child_sb3, main  # noqa: E402

STEPS = 100_000


def sb3_model(seed):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.utils import get_linear_fn
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    return PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
               ent_coef=0.0, learning_rate=get_linear_fn(1e-3, 0, 1), clip_range=get_linear_fn(0.2, 0, 1),
               seed=seed, device="cpu", verbose=0)


if __name__ == "__main__":
    main(__file__, {
        "derl-ppo": lambda seed, steps: child_derl("ppo", "CartPole-v1", seed, {"total_steps": steps}),
        "sb3-ppo": lambda seed, steps: child_sb3(sb3_model, steps, seed),
    }, STEPS)
