"""The one exception the CLI turns into a single line on stderr and exit code 2."""


class BadInput(Exception):
    """Something the user asked for cannot be done; the message is shown as is (control characters escaped)."""


def printable(text: str) -> str:
    """`text` on one line: control characters (newlines, escapes) written as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
