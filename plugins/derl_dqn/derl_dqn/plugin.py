"""DQN's registration. No torch here.

atari follows Rainbow's published settings (Hessel et al. 2018, table 1): replay 1M, learning starts 80k
frames-as-steps, a gradient step every 4 steps with batch 32, Adam lr 6.25e-5 (eps 1.5e-4), target copied
every 32k env steps (8k gradient steps), epsilon 1 -> 0.01 over 1M steps, 3-step returns, gamma 0.99,
prioritized replay with alpha 0.6 and beta 0.4 -> 1, noisy nets sigma0 0.5.
classic starts from rl-baselines3-zoo's CartPole-v1 DQN (hyperparams/dqn.yml: batch 64, buffer 100k, learning
starts 1000, train every 256 steps with 128 gradient steps, epsilon to 0.04 over 16% of training, 256-256 MLP)
with derl's extensions on, and a learning rate of 1e-3 annealed linearly to 0 instead of rl-zoo's constant
2.3e-3: with that one, every extension and plain DQN reached 500 and then collapsed (CartPole's known
forgetting); annealed from 1e-3 all 5 seeds end at an eval of 500 and a last-20 training mean of 487-500
(bench/results/dqn_ablation.md).
"""
from derl_core import hookimpl
from derl_core.model_options import her_hyperparameters, model_hyperparameters, normalization_hyperparameters
from derl_core.spec import AlgorithmSpec, hp
from derl_core.config import replay_problem
from derl_core.memory import replay_bytes

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs (epsilon is drawn per env)", 1, 1, 256),
    hp("total_steps", int, "env steps to train for", 1_000_000, 1, None, atari=10_000_000, classic=100_000),
    hp("buffer_size", int, "replay capacity in transitions", 1_000_000, 1, None, atari=1_000_000,
       classic=100_000),
    hp("learning_starts", int, "env steps before the first update", 80_000, 0, None, atari=80_000,
       classic=1000),
    hp("train_every", int, "env steps between training phases", 4, 1, None, atari=4, classic=256),
    hp("gradient_steps", int, "gradient steps per training phase", 1, 1, None, atari=1, classic=128),
    hp("batch_size", int, "minibatch size", 32, 1, None, atari=32, classic=64),
    hp("learning_rate", float, "Adam learning rate", 6.25e-5, 0, None, atari=6.25e-5, classic=1e-3),
    hp("anneal_lr", bool, "anneal the learning rate linearly to 0 over training", False, classic=True),
    hp("adam_eps", float, "Adam epsilon", 1.5e-4, 0, None, atari=1.5e-4, classic=1e-8),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("nstep", int, "n of the n-step return", 3, 1, 100),
    hp("target_update_interval", int, "gradient steps between target-network copies", 8000, 1, None,
       atari=8000, classic=128),
    hp("epsilon_start", float, "initial exploration epsilon", 1.0, 0, 1),
    hp("epsilon_end", float, "final exploration epsilon", 0.01, 0, 1, atari=0.01, classic=0.04),
    hp("epsilon_steps", int, "env steps to anneal epsilon over", 1_000_000, 1, None, atari=1_000_000,
       classic=16_000),
    hp("double", bool, "double DQN: the online net picks the argmax, the target net evaluates it", True),
    hp("dueling", bool, "dueling head: Q = V + A - mean(A)", True),
    hp("prioritized", bool, "prioritized replay (sum tree)", True),
    hp("per_alpha", float, "priority exponent alpha", 0.6, 0, None),
    hp("per_beta", float, "initial importance-sampling exponent beta", 0.4, 0, 1),
    hp("anneal_per_beta", bool, "anneal beta linearly to 1 over training (else constant)", True),
    hp("noisy", bool, "noisy nets (factorised Gaussian) instead of epsilon-greedy", False),
    hp("noisy_sigma0", float, "noisy nets sigma0", 0.5, 0, None),
    hp("max_grad_norm", float, "global grad-norm clip (0: off)", 10.0, 0, None),
    # the Q network: a 256-256 ReLU MLP on vectors, after the Nature CNN on images, default init
    *model_hyperparameters(net_arch="256,256", activation="relu", ortho_init=False,
                           names=("net_arch", "activation", "ortho_init", "image_scale", "encoder", "model")),
    *normalization_hyperparameters(),   # --normalize-obs, --normalize-reward: off
    *her_hyperparameters(),   # --her: hindsight relabelling for goal envs (the core's, rl/her.py)
]


def memory(h: dict, env: dict) -> int:
    return replay_bytes(h["buffer_size"], env, h["prioritized"])


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        name="dqn",
        summary="DQN with n-step, double, dueling, prioritized replay and noisy nets",
        factory="derl_dqn.dqn:DQNFactory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=memory,
        action_spaces=("Discrete",),
    ))
