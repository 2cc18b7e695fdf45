"""User-fixable errors of the evaluator: bad data and bad proxy settings."""
from mixsearch.search_space.errors import MixsearchError


class DatasetError(MixsearchError, ValueError):
    """A dataset that is missing, empty, corrupt or in an unknown format; names the path and what was expected."""


class ProxyConfigError(MixsearchError, ValueError):
    """A proxy setting out of range or of the wrong type; names the field, the value and what is allowed."""
