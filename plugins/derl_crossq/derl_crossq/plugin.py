"""CrossQ's registration. No torch here.

CrossQ is SAC's loop (derl-sac) without target networks: wide critics with batch renormalisation, evaluated on
(s, a) and (s', a') in one joint forward so the normalisation statistics are those of both. Defaults follow
Bhatt et al. 2024 and SBX's CrossQ: critics 2048-2048, actor 256-256, Adam lr 1e-3 with beta1 0.5, the actor
and temperature updated every 3rd critic step, batch renorm momentum 0.01 acting as plain batch norm for its
first 100k updates. The actor here has no batch norm (SBX's has; the paper's ablations keep it)."""
from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.spec import AlgorithmSpec, derived, hp
from derl_sac.plugin import HYPERPARAMETERS as SAC_HYPERPARAMETERS
from derl_sac.plugin import memory as sac_memory

CHANGED = {"learning_rate": 1e-3, "critic_arch": "2048,2048"}   # every family: the paper's


HYPERPARAMETERS = derived(SAC_HYPERPARAMETERS, CHANGED) + [
    hp("policy_delay", int, "critic steps per actor and temperature step", 3, 1, None),
    hp("adam_beta1", float, "Adam's beta1 (all optimizers)", 0.5, 0, 1),
    hp("bn_momentum", float, "batch renorm running-statistics momentum", 0.01, 0, 1),
    hp("renorm_warmup", int, "updates of plain batch norm before renormalisation's corrections", 100_000, 0, None),
]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=3,
        name="crossq",
        summary="CrossQ: SAC without target networks, batch-renormalised critics",
        factory="derl_crossq.crossq:CrossQFactory",
        hyperparameters=HYPERPARAMETERS,
        check=replay_problem,
        memory=sac_memory,   # SAC's estimate: one critic copy fewer, the same order
        action_spaces=("Box",),
        observation_spaces=("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")))
