"""Spaces and shapes shared by the supernet tests: the default space at half width, and a small
custom space at full width whose splits come out uneven (3 projection groups over 20 channels,
the 'exp' split) and whose kernel sets include a single 7 and an unsorted [5, 3]."""
from __future__ import annotations

from mixsearch.evaluator.proxy_shape import ProxyShape
from mixsearch.search_space import loads_space

CUSTOM = """
name: custom
resolution: 64
num_classes: 1000
stem_chs: 8
head_chs: 24
act: swish
dropout: 0.0
stages:
- {block_type: ds, stride: 1, depth: [1], width: [8], kernels: [[3]], exp_ratio: [1], se_ratio: [0, 0.25]}
- {stride: 2, depth: [1, 2], width: [12, 20], kernels: [[3], [7], [3, 5, 7], [5, 3]], exp_ratio: [1, 3],
   split: [equal, exp], exp_groups: [1, 2], proj_groups: [1, 3], se_ratio: [0, 0.5], act: [relu, swish]}
- {stride: 1, depth: [1, 2], width: [28], kernels: [[3, 5]], exp_ratio: [2], proj_groups: [1, 2], act: [relu6]}
"""

CUSTOM_SHAPE = ProxyShape(resolution=12, num_classes=5, in_chans=3, width_mult=1.0)
DEFAULT_SHAPE = ProxyShape(resolution=16, num_classes=10, in_chans=3, width_mult=0.5)


def custom_space():
    return loads_space(CUSTOM)
