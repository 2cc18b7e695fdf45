"""ProxyConfig: strict parsing, exact round trip."""
from __future__ import annotations

import pytest
import yaml

from mixsearch.evaluator import ProxyConfig, ProxyConfigError
from mixsearch.search_space import MixsearchError


def test_round_trip_through_yaml():
    config = ProxyConfig(dataset="npz:/data/x.npz", epochs=5, width_mult=0.75, threads=2, time_limit_s=None,
                         stem_stride=2, optimizer="adamw", schedule="cosine")
    assert ProxyConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config


@pytest.mark.parametrize("changes, field", [
    ({"epochs": 0}, "proxy.epochs"), ({"epochs": 2.5}, "proxy.epochs"), ({"lr": -1.0}, "proxy.lr"),
    ({"optimizer": "lion"}, "proxy.optimizer"), ({"stem_stride": 3}, "proxy.stem_stride"),
    ({"data_fraction": 0.0}, "proxy.data_fraction"), ({"distort_val": "yes"}, "proxy.distort_val"),
    ({"repeats": 0}, "proxy.repeats"), ({"val_draws": 0}, "proxy.val_draws"),
    ({"zero_init_residual": 1}, "proxy.zero_init_residual"),
    ({"threads": 0}, "proxy.threads"), ({"dataset": ""}, "proxy.dataset"), ({"batch_size": True}, "proxy.batch_size"),
    ({"device": "gpu"}, "proxy.device"), ({"device": "cuda:x"}, "proxy.device"),
])
def test_bad_values_name_the_field(changes, field):
    with pytest.raises(ProxyConfigError, match=field) as info:
        ProxyConfig(**changes)
    assert isinstance(info.value, MixsearchError)


def test_unknown_key_lists_the_allowed_ones():
    with pytest.raises(ProxyConfigError, match="proxy.epoch: unknown key; allowed keys: dataset, resolution"):
        ProxyConfig.from_dict({"epoch": 3})
