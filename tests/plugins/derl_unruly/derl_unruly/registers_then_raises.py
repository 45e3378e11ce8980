"""Registers an algorithm, then raises: the algorithm must not stay registered."""
from derl_core import hookimpl
from derl_core.spec import AlgorithmSpec, hp


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec("half", "registered, then the hook raised", "derl_unruly.bad_factories:Reads",
                           [hp("num_envs", int, "envs", 1), hp("total_steps", int, "steps", 100)], api_version=2))
    raise ValueError("half-way registration failed")
