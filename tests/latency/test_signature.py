"""Signatures are part of the file format: golden strings, one per distinct layer, ops = the block."""
from __future__ import annotations

import torch

from mixsearch.latency.entries import entries_of, make_entry
from mixsearch.latency.signature import entry_signatures, layer_signature, op_signatures
from mixsearch.search_space import build_layer, load_preset, resolve_layers
from mixsearch.search_space.layers import BlockLayer


def test_golden_signatures_of_mixnet_s():
    layers = resolve_layers(load_preset("mixnet_s"))
    assert layer_signature(layers[0]) == "stem-i224x3-o112x16-k3-s2-relu"
    assert layer_signature(layers[1]) == "ds-i112x16-o112x16-e16-k3-s1-d1-a1-p1-se0-relu-equal"
    assert layer_signature(layers[4]) == "ir-i56x24-o28x40-e144-k3.5.7-s2-d1-a1-p1-se12-swish-equal"
    assert layer_signature(layers[-1]) == "head-i7x200-h1536-c1000-relu"
    assert op_signatures(layers[4]) == (
        "expand-i56x24-o144-g1-swish", "mixconv-i56x144-k3.5.7-s2-d1-equal-swish",
        "se-i28x144-r12-swish", "project-i28x144-o40-g1-skip0")
    assert op_signatures(layers[5]) == (
        "expand-i28x40-o240-g2-swish", "mixconv-i28x240-k3.5-s1-d1-equal-swish",
        "se-i28x240-r20-swish", "project-i28x240-o40-g2-skip1")
    # no expansion conv and no SE: only the ops the block runs
    assert op_signatures(layers[1]) == ("mixconv-i112x16-k3-s1-d1-equal-relu", "project-i112x16-o16-g1-skip1")
    assert entry_signatures(layers[0], "op") == (layer_signature(layers[0]),)


def test_distinct_layers_have_distinct_signatures(tiny_space):
    layers = tiny_space.possible_layers()
    assert len({layer_signature(layer) for layer in layers}) == len(layers)


def test_op_entries_compute_what_the_block_computes():
    """Running a block's op entries one after another gives the block's output: the table times
    exactly the work of the network, nothing left out, nothing counted twice."""
    generator = torch.Generator().manual_seed(0)
    for layer in resolve_layers(load_preset("mixnet_s"))[1:-1]:
        assert isinstance(layer, BlockLayer)
        block = build_layer(layer).eval()
        x = torch.randn(1, layer.in_chs, 16, 16, generator=generator)
        h = x
        with torch.no_grad():
            for index in range(len(op_signatures(layer))):
                module, example = make_entry(layer, "op", index, 1, generator)
                assert example[0].shape[1] == h.shape[1]  # the entry is timed on the input it gets in the block
                target = module.project if len(example) == 2 else module  # ProjectWithSkip wraps the projection
                target.load_state_dict(_submodule(block, index, layer).state_dict())
                h = module(h, x) if len(example) == 2 else module(h)
            assert torch.allclose(h, block(x), atol=1e-5)


def _submodule(block, index, layer):
    names = (["expand"] if layer.has_expansion else []) + ["depthwise"] + (["se"] if layer.se_chs else []) + ["project"]
    return getattr(block, names[index])


def test_entries_are_deduplicated_and_sorted(tiny_space):
    entries = entries_of(tiny_space.possible_layers(), "op")
    assert list(entries) == sorted(entries)
    everything = [s for layer in tiny_space.possible_layers() for s in entry_signatures(layer, "op")]
    assert set(entries) == set(everything) and len(everything) > len(entries)
