"""Supernet training: the sandwich step runs largest, smallest and random members and distils from
the largest; the distillation loss is KL by hand; a resumed training equals an uninterrupted one."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mixsearch.evaluator.errors import SupernetError
from mixsearch.evaluator.supernet import SuperNet, SupernetRecipe, load_supernet, train_supernet
from mixsearch.evaluator.supernet.training import distillation_loss, sandwich_archs, sandwich_step

from .supernet_spaces import CUSTOM_SHAPE, custom_space


def test_distillation_loss_is_kl_of_the_softened_predictions_by_hand():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])
    teacher = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    for temperature in (1.0, 2.0):
        total = 0.0
        for s_row, t_row in zip(student.tolist(), teacher.tolist()):
            t_exp = [math.exp(v / temperature) for v in t_row]
            s_exp = [math.exp(v / temperature) for v in s_row]
            p = [e / sum(t_exp) for e in t_exp]
            q = [e / sum(s_exp) for e in s_exp]
            total += sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))
        expected = total / 2 * temperature ** 2
        assert distillation_loss(student, teacher, temperature).item() == pytest.approx(expected, rel=1e-6)
    assert distillation_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)


@pytest.fixture
def net() -> SuperNet:
    return SuperNet(custom_space(), CUSTOM_SHAPE, seed=3).train()


def test_sandwich_archs_are_largest_smallest_then_seeded_members(net):
    archs = sandwich_archs(net, np.random.default_rng(5), 3)
    assert archs[:2] == [net.largest, net.smallest] and len(archs) == 5
    assert all(net.space.contains(a) for a in archs[2:])
    assert archs == sandwich_archs(net, np.random.default_rng(5), 3)
    assert archs[2:] != sandwich_archs(net, np.random.default_rng(6), 3)[2:]


def test_sandwich_step_runs_every_member_and_distils_from_the_largest(net):
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 2, 3])
    archs = sandwich_archs(net, np.random.default_rng(1), 2)
    seen = []
    hook = net.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    net.zero_grad()
    losses = sandwich_step(net, x, y, archs, SupernetRecipe(random_archs=2))
    hook.remove()
    assert seen == archs
    # The same losses from fresh forwards (no dropout in this space; training-mode BN uses batch statistics).
    with torch.no_grad():
        teacher = net(x, archs[0])
        expected = [F.cross_entropy(teacher, y).item()] + [distillation_loss(net(x, a), teacher).item()
                                                           for a in archs[1:]]
    assert losses == pytest.approx(expected, rel=1e-5)
    # The second layer of stage s2 exists only in members two layers deep there: the largest is one.
    deep = net.stages[2][1].project_weight.grad
    assert deep is not None and deep.abs().sum() > 0
    # Without distillation every member learns the labels.
    with torch.no_grad():
        labels = [F.cross_entropy(net(x, a), y).item() for a in archs]
    assert sandwich_step(net, x, y, archs, SupernetRecipe(distill=False)) == pytest.approx(labels, rel=1e-5)


def test_a_step_without_random_members_touches_only_the_ends(net):
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    archs = sandwich_archs(net, np.random.default_rng(1), 0)
    assert archs == [net.largest, net.smallest]
    assert len(sandwich_step(net, x, torch.tensor([0, 1, 2, 3]), archs, SupernetRecipe(random_archs=0))) == 2


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Interrupt(Exception):
    pass


def test_a_resumed_training_equals_an_uninterrupted_one(fast_config, tmp_path):
    space, recipe = custom_space(), SupernetRecipe(epochs=3, random_archs=1, seed=2)
    reports = []
    whole = train_supernet(space, fast_config, recipe, tmp_path / "whole.pt", progress=False,
                           report=lambda epoch, m: reports.append(m))
    assert [m["epoch"] for m in reports] == [0, 1, 2] and not (tmp_path / "whole.pt.ckpt").exists()

    def stop_after_second_epoch(epoch, metrics):
        if epoch == 1:
            raise Interrupt()
    with pytest.raises(Interrupt):
        train_supernet(space, fast_config, recipe, tmp_path / "cut.pt", progress=False, report=stop_after_second_epoch)
    assert (tmp_path / "cut.pt.ckpt").exists() and not (tmp_path / "cut.pt").exists()
    torch.manual_seed(123)  # the caller's global RNG must not matter (dropout draws are seeded per epoch)
    resumed = train_supernet(space, fast_config, recipe, tmp_path / "cut.pt", resume=True, progress=False)
    assert states_equal(whole.state_dict(), resumed.state_dict())
    loaded, extra = load_supernet(tmp_path / "cut.pt", space=space)
    assert states_equal(loaded.state_dict(), whole.state_dict())
    assert extra["recipe"] == recipe.to_dict() and extra["space_fingerprint"] == space.fingerprint()
    assert extra["proxy"]["dataset"] == fast_config.dataset and len(extra["history"]) == 3
    assert extra["data"].startswith(f"npz:{fast_config.dataset}") and loaded.dataset == extra["data"]
    assert [h["largest_loss"] for h in extra["history"]] == pytest.approx([m["largest_loss"] for m in reports])


def test_a_checkpoint_of_another_training_is_refused(fast_config, tmp_path):
    space, recipe = custom_space(), SupernetRecipe(epochs=2, random_archs=0)

    def stop(epoch, metrics):
        raise Interrupt()
    with pytest.raises(Interrupt):
        train_supernet(space, fast_config, recipe, tmp_path / "s.pt", progress=False, report=stop)
    with pytest.raises(SupernetError, match="another training \\(recipe differs"):
        train_supernet(space, fast_config, recipe.replace(seed=1), tmp_path / "s.pt", resume=True, progress=False)
    with pytest.raises(SupernetError, match="another training \\(proxy differs"):
        train_supernet(space, fast_config.replace(lr=0.5), recipe, tmp_path / "s.pt", resume=True, progress=False)
    with pytest.raises(SupernetError, match="no checkpoint to resume from"):
        train_supernet(space, fast_config, recipe, tmp_path / "other.pt", resume=True, progress=False)
    (tmp_path / "junk.pt.ckpt").write_bytes(b"junk")
    with pytest.raises(SupernetError, match="not a readable supernet checkpoint"):
        train_supernet(space, fast_config, recipe, tmp_path / "junk.pt", resume=True, progress=False)


@pytest.mark.parametrize("field,value", [("epochs", 0), ("random_archs", -1), ("distill", "yes"),
                                         ("temperature", 0.0), ("lr", -1.0), ("seed", 1.5)])
def test_bad_recipe_values_name_the_field(field, value):
    with pytest.raises(SupernetError, match=f"supernet recipe {field}: got"):
        SupernetRecipe(**{field: value})
    with pytest.raises(SupernetError, match="unknown key"):
        SupernetRecipe.from_dict({"epoch": 3})
