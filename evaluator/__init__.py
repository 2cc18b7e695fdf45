"""Scores of candidates: short proxy training on real data, and zero-cost proxies at initialisation."""
from .config import ProxyConfig
from .datasets import SplitData, load_split, resolve_dataset
from .errors import DatasetError, ProxyConfigError, SupernetError
from .proxy import proxy_arch
from .proxy_shape import ProxyShape
from .result import FAILURE_KINDS, EvalResult, Failure
from .train import evaluate
from .zero_cost import ZERO_COST_PROXIES, zero_cost_scores

__all__ = [
    "DatasetError", "EvalResult", "FAILURE_KINDS", "Failure", "ProxyConfig", "ProxyConfigError", "ProxyShape",
    "SplitData", "SupernetError", "ZERO_COST_PROXIES", "evaluate", "load_split", "proxy_arch", "resolve_dataset",
    "zero_cost_scores",
]
