"""The one exception the CLI turns into a single line on stderr and exit code 2."""


class BadInput(Exception):
    """Something the user asked for cannot be done; the message is shown as is."""
