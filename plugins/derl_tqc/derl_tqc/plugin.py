"""TQC's registration. No torch here.

TQC is SAC's loop (derl-sac: squashed Gaussian actor, warm-up, temperature, Polyak targets) with distributional
critics: `n_critics` networks of `n_quantiles` quantiles each; the target pools every network's quantiles of
the next state, sorts them and drops the `top_quantiles_to_drop` largest per network (the control of
overestimation), the actor maximises the mean of all quantiles. Its hyperparameters are SAC's plus those three,
at Kuznetsov et al.'s / sb3-contrib's defaults (5 critics, 25 quantiles, 2 dropped per critic; rl-zoo's tqc.yml
uses the same on MuJoCo)."""
from derl_core import hookimpl
from derl_core.config import replay_problem
from derl_core.memory import mlp_bytes, replay_bytes
from derl_core.model_options import mlp_sizes
from derl_core.spec import AlgorithmSpec, hp
from derl_sac.plugin import HYPERPARAMETERS as SAC_HYPERPARAMETERS

HYPERPARAMETERS = [*SAC_HYPERPARAMETERS,
                   hp("n_critics", int, "critic networks", 5, 1, 100),
                   hp("n_quantiles", int, "quantiles per critic network", 25, 1, 1000),
                   hp("top_quantiles_to_drop", int, "largest target quantiles dropped per critic network", 2, 0,
                      None)]


def check(h: dict) -> str | None:
    problem = replay_problem(h)
    if problem:
        return problem
    if h["top_quantiles_to_drop"] >= h["n_quantiles"]:
        return (f"--top-quantiles-to-drop {h['top_quantiles_to_drop']} leaves no quantile of "
                f"--n-quantiles {h['n_quantiles']}")
    return None


def memory(h: dict, env: dict) -> int:
    import math
    obs = max(math.prod(env["obs_shape"]), env.get("obs_bytes", 0) // 4)
    act = math.prod(env["action_shape"])
    actor_sizes, critic_sizes = mlp_sizes(h)
    width = max((*actor_sizes, *critic_sizes), default=1)
    actor = mlp_bytes((obs, *actor_sizes, 2 * act))
    critics = h["n_critics"] * mlp_bytes((obs + act, *critic_sizes, h["n_quantiles"]), copies=5)
    return replay_bytes(h["buffer_size"], env) + actor + critics + 3 * h["batch_size"] * width * 4 * 8


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=3,
        name="tqc",
        summary="TQC: SAC with truncated quantile critics",
        factory="derl_tqc.tqc:TQCFactory",
        hyperparameters=HYPERPARAMETERS,
        check=check,
        memory=memory,
        action_spaces=("Box",),
        observation_spaces=("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")))
