"""derl A2C vs Stable-Baselines3 A2C on CartPole-v1 with rl-zoo's settings (8 envs x 5 steps, RMSprop 7e-4
constant, gamma 0.99, lambda 1, ent 0, vf 0.5, grad norm 0.5) and 500k steps.

    python bench/a2c_cartpole.py [--seeds 1 2 3] [--steps 500000]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_derl, child_sb3, main  # noqa: E402


def sb3_model(seed):
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    return A2C("MlpPolicy", env, ent_coef=0.0, seed=seed, device="cpu", verbose=0)


if __name__ == "__main__":
    main(__file__, {
        "derl-a2c": lambda seed, steps: child_derl("a2c", "CartPole-v1", seed, {"total_steps": steps}),
        "sb3-a2c": lambda seed, steps: child_sb3(sb3_model, steps, seed),
    }, 500_000)
