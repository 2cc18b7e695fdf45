"""Errors raised for bad user input. The CLI turns any MixsearchError into a one-line message and exit 2."""

MAX_MESSAGE_CHARS = 2000


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut in the middle to at most `limit` characters, so a huge value never floods a message."""
    if len(text) <= limit:
        return text
    keep = max(limit - 50, 2)  # the marker takes under 50 characters
    return f"{text[:keep // 2]}... ({len(text) - keep:,} characters left out) ...{text[len(text) - keep // 2:]}"


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` as one printable line: line breaks and control characters (a YAML key may hold any)
    escaped as in a Python string, then shortened."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return shorten(text, limit)


class MixsearchError(Exception):
    """Base for every error caused by input the user can fix (spec, space, target, data, table).
    Its message is shortened, so a huge value echoed from a file never floods a log or a terminal."""

    def __init__(self, *args):
        super().__init__(*(shorten(arg) if isinstance(arg, str) else arg for arg in args))


class SpecError(MixsearchError, ValueError):
    """A malformed architecture spec or search space: names the field path, the value and what is allowed."""

    def __init__(self, path: str, message: str, *, source: str | None = None):
        self.path = shorten(path, 300)
        self.message = shorten(message)
        self.source = source
        where = f"{source}: " if source else ""
        field = f"{self.path}: " if self.path else ""
        super().__init__(f"{where}{field}{self.message}")

    def with_source(self, source: str) -> "SpecError":
        """The same error, naming the file it came from."""
        return SpecError(self.path, self.message, source=source)


class UsageError(MixsearchError, ValueError):
    """A command used wrongly: a flag's value out of range, flags that do not go together, a
    missing argument. The message names the flag (or the settings file and field) and the fix."""
