"""Shared helpers for the search_space tests: random specs that exercise every spec feature."""
from __future__ import annotations

import numpy as np
import pytest

from mixsearch.search_space import ArchSpec, BlockSpec, SpecError, resolve_layers
from mixsearch.search_space.space import default_space

KERNEL_SETS = [(3,), (5,), (3, 5), (3, 5, 7), (3, 5, 7, 9), (3, 5, 7, 9, 11), (5, 3)]


def random_block(rng: np.random.Generator) -> BlockSpec:
    kernels = KERNEL_SETS[rng.integers(len(KERNEL_SETS))]
    block_type = "ds" if rng.random() < 0.15 else "ir"
    exp_ratio = 1 if block_type == "ds" else int(rng.choice([1, 2, 3, 4, 6]))
    return BlockSpec(
        out_chs=int(rng.choice([8, 12, 16, 20, 24, 36, 40, 48])), block_type=block_type,
        repeats=int(rng.integers(1, 4)), kernels=kernels, stride=int(rng.choice([1, 2])), exp_ratio=exp_ratio,
        se_ratio=float(rng.choice([0.0, 0.25, 0.5, 0.1])), act=str(rng.choice(["relu", "relu6", "swish"])),
        exp_groups=1 if exp_ratio == 1 else int(rng.choice([1, 2])), proj_groups=int(rng.choice([1, 2, 4])),
        split=str(rng.choice(["equal", "exp"])), dilation=int(rng.choice([1, 1, 2])))


def random_arch(rng: np.random.Generator, resolution: int = 32) -> ArchSpec:
    """A random valid spec beyond the default space: ds blocks, exp splits, dilation, relu6, width_mult."""
    for _ in range(100):
        arch = _random_arch(rng, resolution)
        try:
            resolve_layers(arch)
        except SpecError:
            continue  # e.g. too few channels for a halving split; draw again
        return arch
    raise RuntimeError("no valid random arch in 100 draws")


def _random_arch(rng: np.random.Generator, resolution: int) -> ArchSpec:
    blocks = [random_block(rng) for _ in range(int(rng.integers(1, 6)))]
    return ArchSpec(blocks=tuple(blocks), name=f"random{int(rng.integers(1 << 30))}", resolution=resolution,
                    num_classes=int(rng.choice([10, 100])), stem_chs=int(rng.choice([16, 24, 32])),
                    head_chs=int(rng.choice([64, 128])), act=str(rng.choice(["relu", "swish", "relu6"])),
                    dropout=float(rng.choice([0.0, 0.2])), width_mult=float(rng.choice([1.0, 1.0, 0.75, 1.3])),
                    stem_stride=int(rng.choice([1, 2])))


def small_default_space(resolution: int = 32):
    return default_space().replace(resolution=resolution, num_classes=10)


@pytest.fixture(scope="session")
def space_specs() -> list[ArchSpec]:
    """50 specs sampled from the default space at a small resolution (cheap to build and trace)."""
    rng = np.random.default_rng(2024)
    space = small_default_space()
    return [space.sample(rng) for _ in range(50)]


@pytest.fixture(scope="session")
def random_specs() -> list[ArchSpec]:
    """50 random valid specs with every feature, at a small resolution."""
    rng = np.random.default_rng(7)
    return [random_arch(rng) for _ in range(50)]
