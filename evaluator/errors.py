"""User-fixable errors of the evaluator: bad data and bad proxy settings."""
from mixsearch.search_space.errors import MixsearchError


class DatasetError(MixsearchError, ValueError):
    """A dataset that is missing, empty, corrupt or in an unknown format; names the path and what was expected."""


class ProxyConfigError(MixsearchError, ValueError):
    """A proxy setting out of range or of the wrong type; names the field, the value and what is allowed."""


class SupernetError(MixsearchError, ValueError):
    """A supernet that does not fit what it is used for (another space, dataset or proxy shape), an
    architecture outside its space, or a supernet file that cannot be read; names what and how to fix."""
