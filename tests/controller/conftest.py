"""Shared fixtures: a proxy so small a candidate trains in well under a second."""
import pytest

from mixsearch.evaluator import ProxyConfig


@pytest.fixture
def tiny_proxy() -> ProxyConfig:
    return ProxyConfig(dataset="digits", epochs=1, data_fraction=0.1, resolution=16, width_mult=0.25, threads=1, repeats=1,
                       time_limit_s=60.0)
