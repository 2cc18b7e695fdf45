"""Errors of latency tables: missing entries, wrong schema, a table built for another space."""
from mixsearch.search_space.errors import MixsearchError


class LatencyTableError(MixsearchError):
    """A latency table cannot answer: the message names the table, the entry or field, and the fix."""
