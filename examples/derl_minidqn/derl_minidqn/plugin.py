"""derl-minidqn's registration (no torch)."""
from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.memory import replay_bytes
from derl_core.spec import AlgorithmSpec, hp

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 1, 1, 64),
    hp("total_steps", int, "env steps", 50_000, 1, None),
    hp("buffer_size", int, "replay capacity", 50_000, 1, None),
    hp("learning_starts", int, "env steps before the first update", 1000, 0, None),
    hp("train_every", int, "env steps between gradient steps", 4, 1, None),
    hp("batch_size", int, "minibatch size", 64, 1, None),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("learning_rate", float, "Adam learning rate", 1e-3, 0, None),
    hp("epsilon_steps", int, "env steps to anneal epsilon from 1 to 0.05", 10_000, 1, None),
    hp("target_every", int, "gradient steps between target-network copies", 250, 1, None),
]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        name="minidqn", summary="the smallest DQN on derl's replay (tutorial)",
        factory="derl_minidqn.minidqn:MiniDQNFactory", hyperparameters=HYPERPARAMETERS,
        action_spaces=("Discrete",), check=replay_problem,
        memory=lambda h, env: replay_bytes(h["buffer_size"], env)))
