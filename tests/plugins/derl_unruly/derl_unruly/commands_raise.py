"""derl_register_commands raises: every command must still work."""
from derl_core import hookimpl


@hookimpl
def derl_register_commands(app):
    raise RuntimeError("commands hook exploded")
