"""CrossQ's registration. No torch here.

CrossQ is SAC's loop (derl-sac) without target networks: wide critics with batch renormalisation, evaluated on
(s, a) and (s', a') in one joint forward so the normalisation statistics are those of both. Defaults follow
Bhatt et al. 2024 and SBX's CrossQ: critics 2048-2048, actor 256-256, Adam lr 1e-3 with beta1 0.5, the actor
and temperature updated every 3rd critic step, batch renorm momentum 0.01 acting as plain batch norm for its
first 100k updates. The actor here has no batch norm (SBX's has; the paper's ablations keep it)."""
from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.memory import mlp_bytes, replay_bytes
from derl_core.model_options import mlp_sizes
from derl_core.spec import AlgorithmSpec, hp
from derl_sac.plugin import HYPERPARAMETERS as SAC_HYPERPARAMETERS

CHANGED = {"learning_rate": 1e-3, "critic_arch": "2048,2048"}   # every family: the paper's


def _derived(hparam):
    if hparam.name in CHANGED:
        return hp(hparam.name, hparam.type, hparam.help, CHANGED[hparam.name], hparam.low, hparam.high,
                  hparam.choices)
    return hparam


HYPERPARAMETERS = [_derived(h) for h in SAC_HYPERPARAMETERS] + [
    hp("policy_delay", int, "critic steps per actor and temperature step", 3, 1, None),
    hp("adam_beta1", float, "Adam's beta1 (all optimizers)", 0.5, 0, 1),
    hp("bn_momentum", float, "batch renorm running-statistics momentum", 0.01, 0, 1),
    hp("renorm_warmup", int, "updates of plain batch norm before renormalisation's corrections", 100_000, 0, None),
]


def memory(h: dict, env: dict) -> int:
    import math
    obs = max(math.prod(env["obs_shape"]), env.get("obs_bytes", 0) // 4)
    act = math.prod(env["action_shape"])
    actor_sizes, critic_sizes = mlp_sizes(h)
    width = max((*actor_sizes, *critic_sizes), default=1)
    return (replay_bytes(h["buffer_size"], env) + mlp_bytes((obs, *actor_sizes, 2 * act))
            + 2 * mlp_bytes((obs + act, *critic_sizes, 1), copies=4) + 6 * h["batch_size"] * width * 4 * 8)


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=3,
        name="crossq",
        summary="CrossQ: SAC without target networks, batch-renormalised critics",
        factory="derl_crossq.crossq:CrossQFactory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=memory,
        action_spaces=("Box",),
        observation_spaces=("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")))
