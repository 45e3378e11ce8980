"""SAC's registration. No torch here.

mujoco (and pybullet) follow Haarnoja et al. 2018b ("SAC: algorithms and applications", table 1):
256-256 ReLU nets, Adam 3e-4 for actor, critics and temperature, batch 256, replay 1M, one gradient step
per env step, gamma 0.99, tau 0.005, target entropy -|A|; 5k random warm-up steps; 1M steps.
classic follows rl-baselines3-zoo's Pendulum-v1 SAC (hyperparams/sac.yml: lr 1e-3, otherwise SB3 defaults:
learning starts 100), with derl's budget of 15k steps.
"""
import math

from derl_core import hookimpl
from derl_core.model_options import her_hyperparameters, model_hyperparameters, mlp_sizes, normalization_hyperparameters
from derl_core.spec import AlgorithmSpec, hp
from derl_core.config import replay_problem
from derl_core.memory import mlp_bytes, replay_bytes

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 1, 1, 256),
    hp("total_steps", int, "env steps to train for", 1_000_000, 1, None, mujoco=1_000_000, classic=15_000),
    hp("buffer_size", int, "replay capacity in transitions", 1_000_000, 1, None),
    hp("learning_starts", int, "random-action warm-up steps before the first update", 5000, 0, None,
       mujoco=5000, classic=100),
    hp("train_every", int, "env steps between training phases", 1, 1, None),
    hp("gradient_steps", int, "gradient steps per training phase (update-to-data ratio)", 1, 1, None),
    hp("batch_size", int, "minibatch size", 256, 1, None),
    hp("learning_rate", float, "Adam learning rate (actor, critics, temperature)", 3e-4, 0, None,
       mujoco=3e-4, classic=1e-3),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("tau", float, "Polyak averaging rate of the target critics", 0.005, 0, 1),
    hp("initial_alpha", float, "initial temperature", 1.0, 0, None),
    hp("autotune_alpha", bool, "tune the temperature towards a target entropy of -|A|", True),
    # actor and twin critics: 256-256 ReLU MLPs, PyTorch's default init (--net-arch, --critic-arch, ...)
    *model_hyperparameters(net_arch="256,256", activation="relu", ortho_init=False,
                           names=("net_arch", "critic_arch", "activation", "ortho_init")),
    *normalization_hyperparameters(),   # --normalize-obs, --normalize-reward: off (Haarnoja et al. normalise nothing)
    *her_hyperparameters(),   # --her: hindsight relabelling for goal envs (the core's, rl/her.py)
]


def memory(h: dict, env: dict) -> int:
    obs = max(math.prod(env["obs_shape"]), env.get("obs_bytes", 0) // 4)   # flattened (any rank; Dict: its leaves)
    act = math.prod(env["action_shape"])
    actor_sizes, critic_sizes = mlp_sizes(h)   # the Factory's own rule
    width = max((*actor_sizes, *critic_sizes), default=1)
    actor = mlp_bytes((obs, *actor_sizes, 2 * act))
    critics = 2 * mlp_bytes((obs + act, *critic_sizes, 1), copies=5)   # trained copy + target
    return replay_bytes(h["buffer_size"], env) + actor + critics + 3 * h["batch_size"] * width * 4 * 8


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        name="sac",
        summary="Soft Actor-Critic (twin Q, squashed Gaussian, automatic temperature)",
        factory="derl_sac.sac:SACFactory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=memory,
        action_spaces=("Box",),
        # an MLP on the flattened vector; Dict (goal envs), Tuple, Discrete, ...: the core's encoders first
        observation_spaces=("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"),
    ))
