"""derl's hook specifications. Keyword arguments are only ever added, never renamed.

A plugin is a module exposed through an entry point in group ``derl`` that implements any of these
with ``@derl_core.hookimpl``.
"""
import pluggy

hookspec = pluggy.HookspecMarker("derl")
hookimpl = pluggy.HookimplMarker("derl")


@hookspec
def derl_register_algorithms(register):
    """Call ``register(AlgorithmSpec(...))`` for each algorithm this plugin provides."""


@hookspec
def derl_register_env_families(register):
    """Call ``register(EnvFamilySpec(...))`` for each env family this plugin provides."""


@hookspec
def derl_register_encoders(register):
    """Call ``register(EncoderSpec(...))`` for each image encoder this plugin provides (``--encoder NAME``;
    plugin API 3)."""


@hookspec
def derl_register_commands(app):
    """Add extra typer commands to the ``derl`` app."""
