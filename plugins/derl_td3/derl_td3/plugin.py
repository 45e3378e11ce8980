"""TD3's registration (Fujimoto et al. 2018). No torch here.

mujoco (and pybullet) follow the paper and CleanRL's td3_continuous_action.py: 256-256 ReLU actor and twin
critics, Adam 3e-4, batch 256, replay 1M, 25k random warm-up steps, Gaussian exploration noise 0.1, target
policy smoothing noise 0.2 clipped to 0.5, the actor and the targets updated every 2nd critic step, tau 0.005,
gamma 0.99, 1M steps. classic: Pendulum-sized (learning rate 1e-3, warm-up 100 steps, 15k steps).

DDPG (Lillicrap et al. 2016) is TD3 with its three additions off: one critic (--no-twin), no target policy
smoothing (--policy-noise 0) and no delay (--policy-delay 1).
"""
import math

from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.memory import mlp_bytes, replay_bytes
from derl_core.model_options import her_hyperparameters, model_hyperparameters, mlp_sizes, normalization_hyperparameters
from derl_core.spec import AlgorithmSpec, hp

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 1, 1, 256),
    hp("total_steps", int, "env steps to train for", 1_000_000, 1, None, mujoco=1_000_000, classic=15_000),
    hp("buffer_size", int, "replay capacity in transitions", 1_000_000, 1, None),
    hp("learning_starts", int, "random-action warm-up steps before the first update", 25_000, 0, None,
       mujoco=25_000, classic=100),
    hp("train_every", int, "env steps between training phases", 1, 1, None),
    hp("gradient_steps", int, "gradient steps per training phase", 1, 1, None),
    hp("batch_size", int, "minibatch size", 256, 1, None),
    hp("learning_rate", float, "Adam learning rate (actor and critics)", 3e-4, 0, None, mujoco=3e-4,
       classic=1e-3),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("tau", float, "Polyak averaging rate of the target networks", 0.005, 0, 1),
    hp("exploration_noise", float, "std of the Gaussian added to the actor's actions (in [-1, 1] units)", 0.1, 0,
       None),
    hp("policy_noise", float, "std of the target policy smoothing noise (0: none, as DDPG)", 0.2, 0, None),
    hp("noise_clip", float, "clip of the target policy smoothing noise", 0.5, 0, None),
    hp("policy_delay", int, "critic steps per actor and target update (1: DDPG)", 2, 1, 1000),
    hp("twin", bool, "two critics, the smaller target (clipped double Q; off: DDPG's one critic)", True),
    # actor and critics: 256-256 ReLU MLPs, PyTorch's default init (--net-arch, --critic-arch, ...)
    *model_hyperparameters(net_arch="256,256", activation="relu", ortho_init=False,
                           names=("net_arch", "critic_arch", "activation", "ortho_init")),
    *normalization_hyperparameters(),
    *her_hyperparameters(),   # --her: hindsight relabelling for goal envs (the core's, rl/her.py)
]


def memory(h: dict, env: dict) -> int:
    obs = max(math.prod(env["obs_shape"]), env.get("obs_bytes", 0) // 4)   # flattened (any rank; Dict: its leaves)
    act = math.prod(env["action_shape"])
    actor_sizes, critic_sizes = mlp_sizes(h)   # the Factory's own rule
    width = max((*actor_sizes, *critic_sizes), default=1)
    nets = 2 * mlp_bytes((obs, *actor_sizes, act), copies=5)   # actor + target
    critics = 2 * mlp_bytes((obs + act, *critic_sizes, 1), copies=5)
    return replay_bytes(h["buffer_size"], env) + nets + critics + 3 * h["batch_size"] * width * 4 * 8


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=3,
        name="td3",
        summary="Twin Delayed DDPG (clipped double Q, target smoothing, delayed actor; DDPG with them off)",
        factory="derl_td3.td3:TD3Factory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=memory,
        action_spaces=("Box",),
        # an MLP on the flattened vector; Dict (goal envs), Tuple, Discrete, ...: the core's encoders first
        observation_spaces=("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple"),
    ))
