"""A weight-sharing MixConv supernet: one set of weights for every candidate of a search space at
the proxy's shape; candidates run inside it (training) or are cut out as standalone models (scoring)."""
from .checkpoint import load_supernet, save_supernet, supernet_metadata
from .net import SuperNet, stage_positions
from .recipe import SupernetRecipe
from .scoring import SupernetScorer
from .training import dataset_label, train_supernet

__all__ = ["SuperNet", "SupernetRecipe", "SupernetScorer", "dataset_label", "load_supernet", "save_supernet",
           "stage_positions", "supernet_metadata", "train_supernet"]
