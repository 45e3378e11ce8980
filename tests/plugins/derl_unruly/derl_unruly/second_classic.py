"""A second env family named classic: refused, derl's stays."""
from derl_core import hookimpl
from derl_core.spec import EnvFamilySpec


@hookimpl
def derl_register_env_families(register):
    register(EnvFamilySpec("classic", "an impostor", lambda env_id: True, "derl_core.env.classic", priority=-50))
