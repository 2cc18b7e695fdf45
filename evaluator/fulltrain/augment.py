"""Training augmentation on batches of normalised float images, without torchvision.

'crop-flip': each image padded by `padding` pixels of zeros (the mean colour after normalisation)
and cropped back to its size at a random offset, then mirrored left-right half of the time.
'crop-flip-cutout': then one square of `cutout_size` pixels, centred anywhere in the image (so it
may be partly outside), set to 0 (DeVries & Taylor 2017, "Improved regularization of CNNs with
cutout"). Every draw comes from `generator`, so (seed, epoch) fixes the images of an epoch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def augment_batch(x: torch.Tensor, generator: torch.Generator, mode: str, padding: int,
                  cutout_size: int) -> torch.Tensor:
    """A new (N, C, H, W) tensor; `x` is left as it is. mode 'none' returns x."""
    if mode == "none":
        return x
    n, _, h, w = x.shape
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    padded = F.pad(x, [padding] * 4) if padding else x
    out = torch.empty_like(x)
    for i in range(n):
        top, left = int(offsets[i, 0]), int(offsets[i, 1])
        crop = padded[i, :, top:top + h, left:left + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    if mode == "crop-flip-cutout" and cutout_size > 0:
        centres = torch.stack([torch.randint(0, h, (n,), generator=generator),
                               torch.randint(0, w, (n,), generator=generator)], 1)
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        top = centres[:, 0].view(n, 1, 1) - cutout_size // 2
        left = centres[:, 1].view(n, 1, 1) - cutout_size // 2
        inside = (rows >= top) & (rows < top + cutout_size) & (cols >= left) & (cols < left + cutout_size)
        out = out.masked_fill(inside.unsqueeze(1), 0.0)
    return out
