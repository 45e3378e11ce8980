"""An env family whose `matches` raises, tried before every other family."""
from derl_core import hookimpl
from derl_core.spec import EnvFamilySpec


def matches(env_id):
    raise ZeroDivisionError("matches exploded")


@hookimpl
def derl_register_env_families(register):
    register(EnvFamilySpec("exploding", "matches raises", matches, "derl_core.env.classic", priority=1000))
