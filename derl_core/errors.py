"""The one exception the CLI turns into a single line on stderr and exit code 2."""


class BadInput(Exception):
    """Something the user asked for cannot be done; the message is shown as is (control characters escaped)."""


def first_line(exc: BaseException, limit: int | None = 160) -> str:
    """The first line of an exception's message (at most `limit` characters), "" when it has none."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else ""


def printable(text: str) -> str:
    """`text` on one line: control characters (newlines, escapes) written as Python escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
