"""Weight inheritance by hand: centred crops, kernel transforms, channel slices, diagonal blocks."""
from __future__ import annotations

import torch

from mixsearch.evaluator.supernet.inherit import centre_crop, diagonal_blocks, kernel_at, mixed_kernels


def grid(channels: int, size: int) -> torch.Tensor:
    """(channels, 1, size, size) with entry value 100 * channel + 10 * row + column."""
    c, r, k = torch.meshgrid(torch.arange(channels), torch.arange(size), torch.arange(size), indexing="ij")
    return (100 * c + 10 * r + k).float().unsqueeze(1)


def test_a_3x3_group_gets_exactly_the_centre_of_the_5x5_superkernel():
    superkernel = grid(1, 5)
    assert centre_crop(superkernel, 3)[0, 0].tolist() == [[11, 12, 13], [21, 22, 23], [31, 32, 33]]
    assert centre_crop(superkernel, 1)[0, 0].tolist() == [[22]]
    assert centre_crop(superkernel, 5) is not None and torch.equal(centre_crop(superkernel, 5), superkernel)


def test_mixed_kernels_give_each_channel_group_its_crop_in_channel_order():
    superkernel = grid(4, 5)
    first, second = mixed_kernels(superkernel, splits=(3, 1), kernels=(3, 5), sizes=(3, 5))
    assert first.shape == (3, 1, 3, 3) and second.shape == (1, 1, 5, 5)
    assert first[2, 0].tolist() == [[211, 212, 213], [221, 222, 223], [231, 232, 233]]
    assert torch.equal(second, superkernel[3:4])
    # a kernel set written largest first: the first channels take the 5x5
    big, small = mixed_kernels(superkernel[:2], splits=(1, 1), kernels=(5, 3), sizes=(3, 5))
    assert torch.equal(big, superkernel[:1]) and small[0, 0, 0].tolist() == [111, 112, 113]


def test_kernel_transforms_step_down_from_the_largest_size():
    superkernel = grid(1, 5)
    # 3x3 transform reversing the 9 taps; 1x1 transform doubling
    reverse = torch.eye(9).flip(0)
    assert kernel_at(superkernel, 3, (1, 3, 5), {3: reverse, 1: 2 * torch.eye(1)})[0, 0].tolist() == \
        [[33, 32, 31], [23, 22, 21], [13, 12, 11]]
    # 1x1: crop 3 -> reverse -> centre (22 stays the centre) -> x2
    assert kernel_at(superkernel, 1, (1, 3, 5), {3: reverse, 1: 2 * torch.eye(1)})[0, 0].tolist() == [[44]]
    # the largest size is never transformed; no transforms is the plain crop
    assert torch.equal(kernel_at(superkernel, 5, (1, 3, 5), {3: reverse, 1: torch.eye(1)}), superkernel)
    assert torch.equal(kernel_at(superkernel, 3, (3, 5), None), centre_crop(superkernel, 3))


def test_grouped_weights_are_the_diagonal_blocks_of_the_dense_weight():
    dense = torch.arange(6 * 5, dtype=torch.float32).reshape(6, 5, 1, 1)  # entry = 5 * out + in
    # input 5 = 3 + 2, output 5 = 3 + 2 (remainder to the first group), row 5 unused
    first, second = diagonal_blocks(dense, (3, 2), (3, 2))
    assert first[..., 0, 0].tolist() == [[0, 1, 2], [5, 6, 7], [10, 11, 12]]
    assert second[..., 0, 0].tolist() == [[18, 19], [23, 24]]
    # one group: the first channels of both sides (elastic width and expansion)
    (only,) = diagonal_blocks(dense, (4,), (2,))
    assert only[..., 0, 0].tolist() == [[0, 1, 2, 3], [5, 6, 7, 8]]
