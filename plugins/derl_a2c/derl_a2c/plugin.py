"""A2C's registration: hyperparameters with defaults per env family. No torch here.

Sources: atari follows Mnih et al. 2016 / OpenAI baselines (16 envs x 5 steps, RMSprop 7e-4 annealed).
mujoco follows rl-baselines3-zoo's published A2C HalfCheetah/Hopper settings (hyperparams/a2c.yml:
normalize, MlpPolicy, SB3's A2C defaults: 5 steps, RMSprop 7e-4 constant, gamma 0.99, lambda 1, ent 0,
vf 0.5, grad norm 0.5, 1M steps); derl's mujoco family also scales rewards, which zoo left off there.
classic follows rl-zoo's CartPole-v1 A2C (8 envs, 500k steps, ent 0), which reaches 500.
"""
from derl_core import hookimpl
from derl_core.model_options import model_hyperparameters, normalization_hyperparameters
from derl_core.spec import AlgorithmSpec, hp
from derl_core.config import rollout_problem
from derl_core.memory import rollout_bytes

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 16, 1, 1024, atari=16, mujoco=1, classic=8),
    hp("total_steps", int, "env steps to train for", 1_000_000, 1, None,
       atari=10_000_000, mujoco=1_000_000, classic=500_000),
    hp("nsteps", int, "steps per env per update (n of the n-step return)", 5, 1, None),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("gae_lambda", float, "GAE lambda (1: plain n-step returns)", 1.0, 0, 1),
    hp("learning_rate", float, "RMSprop learning rate", 7e-4, 0, None),
    hp("anneal_lr", bool, "anneal the learning rate linearly to 0", True, mujoco=False, classic=False),
    hp("rmsprop_alpha", float, "RMSprop smoothing constant", 0.99, 0, 1),
    hp("rmsprop_eps", float, "RMSprop epsilon", 1e-5, 0, None),
    hp("value_coef", float, "value loss coefficient", 0.5, 0, None),
    hp("entropy_coef", float, "entropy bonus coefficient", 0.01, 0, None, atari=0.01, mujoco=0.0,
       classic=0.0),
    hp("max_grad_norm", float, "global grad-norm clip (0: off)", 0.5, 0, None),
    hp("normalize_advantages", bool, "normalise advantages per batch", False),
    hp("shared_torso", bool, "actor and critic share their torso", True, atari=True, mujoco=False,
       classic=False),
    *model_hyperparameters(),   # --net-arch, --activation, ... (derl_core.model_options)
    # --normalize-obs, --normalize-reward: on for the mujoco family (and pybullet, which takes its defaults)
    *normalization_hyperparameters(normalize_obs={"mujoco": True}, normalize_reward={"mujoco": True}),
]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        action_spaces=("Discrete", "Box", "MultiDiscrete", "MultiBinary"),
        name="a2c",
        summary="Advantage actor-critic, synchronous (n-step returns, RMSprop)",
        factory="derl_a2c.a2c:A2CFactory",
        hyperparameters=HYPERPARAMETERS,
        check=rollout_problem,
        memory=rollout_bytes,
    ))
