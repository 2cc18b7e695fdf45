"""SupernetScorer: a score is the subnet's validation after BN recalibration on a fixed training
sample (checked against a hand-written calibration and validation); candidates that cannot be
scored get typed failures; supernets of other spaces, shapes or data are refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.evaluator.augment import distort
from mixsearch.evaluator.errors import SupernetError
from mixsearch.evaluator.proxy import load_data
from mixsearch.evaluator.proxy_shape import ProxyShape
from mixsearch.evaluator.supernet import SuperNet, SupernetScorer, dataset_label, save_supernet
from mixsearch.search_space import count_params, default_space, load_preset
from mixsearch.search_space.modules import MixConv

from .supernet_spaces import custom_space


@pytest.fixture
def config(fast_config):
    return fast_config.replace(bn_batches=2, batch_size=4)


@pytest.fixture
def supernet(config) -> SuperNet:
    shape = ProxyShape.of(config, load_data(config))
    net = SuperNet(custom_space(), shape, dataset=dataset_label(config), seed=7, bn_momentum=config.bn_momentum)
    # Statistics and affine parameters away from their initial values, so a missed recalibration shows.
    generator = torch.Generator().manual_seed(8)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.running_mean.fill_(3.0)
    return net


def by_hand(net: SuperNet, arch, config) -> tuple[float, float]:
    """BN statistics as the mean over the first bn_batches batches of the seed's order (distorted by
    seeds seed+b), then clean validation: the proxy's recipe, written out independently."""
    data = load_data(config)
    model = net.subnet(arch)
    for module in model.modules():
        if isinstance(module, MixConv):
            module.crop_to_input = config.crop_kernels
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(config.seed))
    with torch.no_grad():
        for b in range(config.bn_batches):
            index = order[b * config.batch_size:(b + 1) * config.batch_size]
            model(distort(data.train_x[index], torch.Generator().manual_seed(config.seed + b), config.shift,
                          config.rotate, config.scale, config.noise, config.flip))
        model.eval()
        logits = model(data.val_x)
    return F.cross_entropy(logits, data.val_y).item(), (logits.argmax(1) == data.val_y).float().mean().item()


def test_a_score_is_the_recalibrated_subnets_validation_by_hand(supernet, config):
    scorer = SupernetScorer(supernet, config, space=custom_space())
    rng = np.random.default_rng(3)
    for arch in [supernet.largest, supernet.smallest, supernet.space.sample(rng), supernet.space.sample(rng)]:
        result = scorer.score(arch)
        loss, accuracy = by_hand(supernet, arch, config)
        assert result.ok and result.val_loss == pytest.approx(loss, rel=1e-5)
        assert result.accuracy == pytest.approx(accuracy)
        assert result.proxy_params == count_params(supernet.shape.apply(arch))
        assert result.curve[0]["val_accuracy"] == result.accuracy and result.extra == {"scorer": "supernet"}
    # Scoring leaves the supernet's own statistics alone: the same score twice; a report sees the metrics.
    reports = []
    again = scorer.score(supernet.largest, report=lambda epoch, metrics: reports.append((epoch, metrics)))
    assert again.val_loss == scorer.score(supernet.largest).val_loss and reports == [(0, again.curve[0])]


def test_a_saved_supernet_scores_like_the_one_in_memory(supernet, config, tmp_path):
    save_supernet(supernet, tmp_path / "s.pt")
    arch = supernet.space.sample(np.random.default_rng(4))
    from_file = SupernetScorer(tmp_path / "s.pt", config, space=custom_space()).score(arch)
    assert from_file.val_loss == SupernetScorer(supernet, config).score(arch).val_loss


def test_candidates_that_cannot_be_scored_get_typed_failures(supernet, config):
    scorer = SupernetScorer(supernet, config)
    outside = scorer.score(load_preset("mixnet_s"))
    assert not outside.ok and outside.failure.kind == "error" and "not in the supernet's space" in outside.failure.message
    assert outside.accuracy == 0.0 and outside.val_loss is None and outside.proxy_params == 0
    slow = SupernetScorer(supernet, config.replace(time_limit_s=0.0)).score(supernet.largest)
    assert slow.failure.kind == "timeout" and "time limit of 0 s exceeded" in slow.failure.message


def test_supernets_of_another_space_shape_or_data_are_refused(supernet, config, tmp_path):
    save_supernet(supernet, tmp_path / "s.pt")
    with pytest.raises(SupernetError, match="not of space 'mixnet_s_space'"):
        SupernetScorer(tmp_path / "s.pt", config, space=default_space())
    with pytest.raises(SupernetError, match="not of space 'mixnet_s_space'"):
        SupernetScorer(supernet, config, space=default_space())
    with pytest.raises(SupernetError, match="proxy resolution 12, this evaluation has 16"):
        SupernetScorer(tmp_path / "s.pt", config.replace(resolution=16))
    with pytest.raises(SupernetError, match="proxy shape"):
        SupernetScorer(supernet, config.replace(resolution=16))
    other_sample = config.replace(split_seed=1)
    with pytest.raises(SupernetError, match="trained on dataset 'npz:.*split_seed 0.*not 'npz:.*split_seed 1"):
        SupernetScorer(tmp_path / "s.pt", other_sample)
    with pytest.raises(SupernetError, match="trained on 'npz:.*split_seed 0"):
        SupernetScorer(supernet, other_sample)
