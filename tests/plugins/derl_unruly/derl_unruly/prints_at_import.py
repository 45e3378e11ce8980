"""Prints at import (and from a hook) but works; its commands hook takes none of the hook's arguments."""
from derl_core import hookimpl

print("hello from prints_at_import")


@hookimpl
def derl_register_commands():
    print("a hook that prints")
