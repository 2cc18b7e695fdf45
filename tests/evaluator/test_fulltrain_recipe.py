"""The pieces of the final-training recipe, each against an independent reference: weight decay
only on conv/linear weights, the EMA update by hand, the schedule's values, augmentation and
drop-path by their definitions, and the strict recipe."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mixsearch.evaluator.fulltrain import RecipeError, TrainRecipe
from mixsearch.evaluator.fulltrain.augment import augment_batch
from mixsearch.evaluator.fulltrain.drop_path import attach_drop_path
from mixsearch.evaluator.fulltrain.ema import WeightAverage
from mixsearch.evaluator.fulltrain.optim import make_optimizer
from mixsearch.evaluator.fulltrain.schedule import learning_rate
from mixsearch.search_space import ArchSpec, BlockSpec, build_model
from mixsearch.search_space.modules import MixBlock

from .conftest import tiny_arch


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop"])
def test_weight_decay_moves_conv_and_linear_weights_only(optimizer):
    """With zero gradients a step is pure weight decay: conv/linear weights shrink by lr * wd (SGD's
    first step), BN parameters and every bias stay exactly as they were."""
    torch.manual_seed(0)
    model = build_model(tiny_arch())
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm2d, nn.Conv2d, nn.Linear)) and module.bias is not None:
                module.bias.uniform_(-1, 1)  # non-zero, so decay would show
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    opt = make_optimizer(model, TrainRecipe(optimizer=optimizer, lr=0.5, weight_decay=0.1, momentum=0.0))
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    decayed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    expected = {n for n, p in model.named_parameters() if p.ndim > 1}
    assert decayed == expected
    assert any(".bias" in n for n in before) and any("weight" in n and before[n].ndim == 1 for n in before)
    if optimizer == "sgd":
        for name, p in model.named_parameters():
            if p.ndim > 1:
                torch.testing.assert_close(p, before[name] * (1 - 0.5 * 0.1))


def test_ema_update_matches_hand_computation():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(model, decay=0.9)
    w0 = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model.train()
    model(torch.randn(4, 3))  # moves the BN running statistics and its counter
    average.update(model)
    d0 = min(0.9, 1 / 10)  # TF's num_updates warm-up at update 0
    torch.testing.assert_close(average.model[0].weight, d0 * w0 + (1 - d0) * model[0].weight.detach())
    torch.testing.assert_close(average.model[1].running_mean, (1 - d0) * model[1].running_mean)
    assert int(average.model[1].num_batches_tracked) == 1
    w1 = average.model[0].weight.detach().clone()
    average.update(model)
    d1 = min(0.9, 2 / 11)
    torch.testing.assert_close(average.model[0].weight, d1 * w1 + (1 - d1) * model[0].weight.detach())
    for _ in range(200):
        average.update(model)
    assert average.updates == 202 and min(0.9, 203 / 212) == 0.9  # the warm-up has ended at the cap


def test_schedule_warms_up_linearly_then_follows_half_a_cosine_to_zero():
    lr = lambda step: learning_rate(step, 2.0, warmup_steps=10, total_steps=110)  # noqa: E731
    assert [lr(s) for s in (0, 4, 9)] == pytest.approx([0.2, 1.0, 2.0])
    assert lr(10) == pytest.approx(2.0)
    assert lr(35) == pytest.approx(1.0 + math.cos(math.pi / 4))
    assert lr(60) == pytest.approx(1.0)
    assert lr(110) == pytest.approx(0.0, abs=1e-12) and lr(500) == pytest.approx(0.0, abs=1e-12)
    values = [lr(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    assert learning_rate(0, 1.0, 0, 10) == 1.0


def test_crop_flip_is_a_window_of_the_zero_padded_image_maybe_mirrored():
    x = torch.randn(16, 2, 6, 6)
    out = augment_batch(x, torch.Generator().manual_seed(0), "crop-flip", padding=2, cutout_size=0)
    padded = nn.functional.pad(x, [2] * 4)
    flipped = 0
    for i in range(16):
        windows = [padded[i, :, t:t + 6, s:s + 6] for t in range(5) for s in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flipped += mirrored and not plain
    assert 0 < flipped < 16
    again = augment_batch(x, torch.Generator().manual_seed(0), "crop-flip", padding=2, cutout_size=0)
    assert torch.equal(out, again) and augment_batch(x, torch.Generator(), "none", 2, 0) is x


def test_cutout_zeroes_one_square_of_the_given_side():
    x = torch.ones(64, 1, 10, 10)
    out = augment_batch(x, torch.Generator().manual_seed(1), "crop-flip-cutout", padding=0, cutout_size=4)
    zeros = (out == 0).sum(dim=(1, 2, 3))
    assert int(zeros.max()) == 16 and int(zeros.min()) >= 4  # a square, cut by the border at most to 2x2
    i = int(torch.argmax(zeros))
    rows, cols = torch.nonzero(out[i, 0] == 0, as_tuple=True)
    assert int(rows.max() - rows.min()) == 3 and int(cols.max() - cols.min()) == 3


def test_drop_path_drops_whole_residual_branches_in_training_only():
    arch = ArchSpec(blocks=(BlockSpec(out_chs=8, block_type="ds"), BlockSpec(out_chs=8, exp_ratio=2),
                            BlockSpec(out_chs=8, exp_ratio=2)), resolution=8, num_classes=3, stem_chs=8, head_chs=16)
    torch.manual_seed(0)
    model = build_model(arch)
    block = [m for m in model.modules() if isinstance(m, MixBlock)][-1]  # rate 0.5 at the last block
    x = torch.randn(64, 8, 4, 4)
    block.eval()
    plain = block(x)
    handles = attach_drop_path(model, 0.5)
    assert len(handles) == 2  # the ds block has a skip too but rate 0 at the first block
    assert torch.equal(block(x), plain)  # eval: untouched
    block.train()
    branch = block.project(block.se(block.depthwise(block.expand(x))))  # the hook scales this call's output
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()  # fixed statistics, so the branch is the same in every call below
    torch.manual_seed(3)
    out = block(x)
    torch.manual_seed(3)
    keep = (torch.rand(64, 1, 1, 1) < 0.5).float()
    for m in block.modules():
        m.training = False
    reference = x + block.project(block.se(block.depthwise(block.expand(x)))) * keep / 0.5
    torch.testing.assert_close(out, reference)
    assert 0 < int(keep.sum()) < 64 and branch.shape == x.shape
    for handle in handles:
        handle.remove()


def test_recipe_round_trips_and_refuses_unknown_or_bad_fields():
    recipe = TrainRecipe(optimizer="rmsprop", train_size="50/class", epochs=3)
    assert TrainRecipe.from_dict(recipe.to_dict()) == recipe
    with pytest.raises(RecipeError, match=r"recipe\.epoch: unknown key"):
        TrainRecipe.from_dict({"epoch": 3})
    with pytest.raises(RecipeError, match=r"recipe\.lr: got -1"):
        TrainRecipe(lr=-1)
    with pytest.raises(RecipeError, match=r"recipe\.augment: got 'mixup'; allowed: none, crop-flip"):
        TrainRecipe(augment="mixup")
