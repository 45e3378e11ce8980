"""QR-DQN's registration. No torch here.

QR-DQN is DQN's loop (derl-dqn: epsilon-greedy EnvRunner, n-step and prioritized replay, target copies) with a
distributional head: N quantiles of the return per action, trained by the quantile Huber loss. Its
hyperparameters are DQN's, less the heads QR-DQN has no form for (dueling, noisy nets; double's argmax is
kept as an option, off as in sb3-contrib), plus `n_quantiles`. Classic-family defaults follow rl-zoo's
hyperparams/qrdqn.yml CartPole-v1 entry (sb3-contrib's QR-DQN): lr 2.3e-3, 10 quantiles, 50k steps, target
copy every 10 updates; otherwise DQN's classic defaults (which are rl-zoo's DQN CartPole ones), with derl-dqn's
extensions (n-step 3, prioritized replay) on as in DQN."""
from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.memory import replay_bytes
from derl_core.spec import AlgorithmSpec, derived, hp
from derl_dqn.plugin import HYPERPARAMETERS as DQN_HYPERPARAMETERS

NOT_HERE = ("dueling", "noisy", "noisy_sigma0", "model", "double")   # heads and a --model of Q-values
CHANGED = {   # name -> {family: default} replacing DQN's where rl-zoo's QR-DQN differs
    "total_steps": {"classic": 50_000},
    "learning_rate": {"classic": 2.3e-3},
    "target_update_interval": {"classic": 10},
    "epsilon_steps": {"classic": 8_000},   # exploration_fraction 0.16 of 50k
}


HYPERPARAMETERS = derived(DQN_HYPERPARAMETERS, CHANGED, drop=NOT_HERE) + [
    hp("n_quantiles", int, "quantiles of the return per action", 200, 1, 1000, classic=10, atari=200),
    hp("double", bool, "double Q-learning: the online net picks the next action (sb3-contrib: off)", False),
]


def memory(h: dict, env: dict) -> int:
    return replay_bytes(h["buffer_size"], env, h["prioritized"])


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=3,
        name="qrdqn",
        summary="QR-DQN: quantile regression of the return per action, on DQN's loop",
        factory="derl_qrdqn.qrdqn:QRDQNFactory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=memory,
        action_spaces=("Discrete",)))
