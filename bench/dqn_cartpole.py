"""derl DQN (extensions off, to match) vs Stable-Baselines3 DQN on CartPole-v1 with rl-zoo's settings
(lr 2.3e-3, batch 64, buffer 100k, learning starts 1000, 128 gradient steps every 256 env steps, target
copied once per training phase, epsilon 1 -> 0.04 over 8k steps, 256-256 ReLU), 50k steps; then derl DQN with
all extensions on at its own classic defaults (100k steps), for the return.

    python bench/dqn_cartpole.py [--seeds 1 2 3] [--steps 50000]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import child_derl, child_sb3, main  # noqa: E402

PLAIN = {"double": "false", "dueling": "false", "prioritized": "false", "nstep": 1, "epsilon_steps": 8000,
         "epsilon_end": 0.04, "target_update_interval": 128}


def sb3_model(seed):
    from stable_baselines3 import DQN
    return DQN("MlpPolicy", "CartPole-v1", learning_rate=2.3e-3, batch_size=64, buffer_size=100_000,
               learning_starts=1000, gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
               exploration_fraction=0.16, exploration_final_eps=0.04, policy_kwargs={"net_arch": [256, 256]},
               seed=seed, device="cpu", verbose=0)


def with_sps(result, steps):
    result["env_steps_per_s"] = steps / result["wall"]
    return result


if __name__ == "__main__":
    main(__file__, {
        "derl-dqn-plain": lambda seed, steps: with_sps(
            child_derl("dqn", "CartPole-v1", seed, {"total_steps": steps, **PLAIN}), steps),
        "sb3-dqn": lambda seed, steps: with_sps(child_sb3(sb3_model, steps, seed), steps),
        "derl-dqn-all-extensions": lambda seed, steps: with_sps(
            child_derl("dqn", "CartPole-v1", seed, {}), 100_000),
    }, 50_000)
