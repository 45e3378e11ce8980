"""A plugin module that cannot be imported: derl must list it as broken and keep the others working."""
import derl_nonexistent_dependency  # noqa: F401
