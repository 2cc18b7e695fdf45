"""mixsearch: neural architecture search over a MixConv (MixNet) search space."""

__version__ = "0.1.0"
