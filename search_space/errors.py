"""Errors raised for bad user input. The CLI turns any MixsearchError into a one-line message and exit 2."""


class MixsearchError(Exception):
    """Base for every error caused by input the user can fix (spec, space, target, data, table)."""


class SpecError(MixsearchError, ValueError):
    """A malformed architecture spec or search space: names the field path, the value and what is allowed."""

    def __init__(self, path: str, message: str, *, source: str | None = None):
        self.path = path
        self.message = message
        self.source = source
        where = f"{source}: " if source else ""
        field = f"{path}: " if path else ""
        super().__init__(f"{where}{field}{message}")

    def with_source(self, source: str) -> "SpecError":
        """The same error, naming the file it came from."""
        return SpecError(self.path, self.message, source=source)
