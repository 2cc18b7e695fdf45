"""User-fixable errors of final training: a bad recipe, an unreadable or foreign checkpoint, a
training that had to stop (NaN loss). The CLI prints each as one line."""
from mixsearch.search_space.errors import MixsearchError


class RecipeError(MixsearchError, ValueError):
    """A training setting out of range, of the wrong type, or unknown; names the field and what is allowed."""


class CheckpointError(MixsearchError, ValueError):
    """A checkpoint or model file that is corrupt, foreign, or of another architecture or recipe."""


class TrainingStopped(MixsearchError, RuntimeError):
    """The loss went NaN/inf: the run stopped; the last good checkpoint is kept (named in the message)."""
