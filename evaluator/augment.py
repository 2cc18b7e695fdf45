"""Seeded random distortions of image batches: the augmentation that makes the proxy task hard.

Plain digits saturate near 98% for almost any network, so the proxy distorts every image with a
random rotation, scale and shift, and adds Gaussian noise. The training images get fresh draws
every epoch; the validation images get one fixed draw (`distort_val`), which turns the split into
a harder, still deterministic task on which architectures separate.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def distort(x: torch.Tensor, generator: torch.Generator, shift: float, rotate: float, scale: float,
            noise: float, flip: bool = False) -> torch.Tensor:
    """Random affine (shift: fraction of the side, rotate: degrees, scale: +-fraction, flip: a
    left-right mirror half of the time) plus noise.

    Draws from `generator` only, so a seed fixes the result; returns a new tensor."""
    if shift == 0 and rotate == 0 and scale == 0 and noise == 0 and not flip:
        return x
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    angle = u[:, 0] * math.radians(rotate)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # Drawn after the affine draws, and only with flip, so settings without it see the same stream.
    mirror = torch.randint(0, 2, (n,), generator=generator) * 2 - 1 if flip else torch.ones(n)
    # affine_grid works in [-1, 1] coordinates: a shift of a fraction f of the side is 2f; a mirror
    # negates the output's x coordinate before the rotation.
    theta = torch.stack([torch.stack([cos * mirror, -sin, u[:, 2] * 2 * shift], 1),
                         torch.stack([sin * mirror, cos, u[:, 3] * 2 * shift], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # "border" repeats the edge pixels, i.e. the background, instead of inventing a black frame.
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if noise:
        out = out + noise * torch.randn(out.shape, generator=generator)
    return out
