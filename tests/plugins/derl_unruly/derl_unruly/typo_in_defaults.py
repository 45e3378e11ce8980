"""A family default under a misspelt family name (mujuco)."""
from derl_core import hookimpl
from derl_core.spec import AlgorithmSpec, hp


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec("typo", "defaults for a family that does not exist", "derl_unruly.bad_factories:Reads",
                           [hp("num_envs", int, "envs", 1), hp("total_steps", int, "steps", 100),
                            hp("learning_rate", float, "lr", 1.0, mujuco=5.0)], api_version=2))
