"""Training a supernet with the sandwich rule and in-place distillation (BigNAS / AttentiveNAS),
on the proxy's task: its data sample, resolution, width, batch, augmentation, optimiser and schedule.

Every step runs the largest member on the labels, then the smallest and `random_archs` uniform
samples on the largest's soft predictions (or the labels without distillation), sums their
gradients and takes one optimiser step. Each epoch draws its data order, augmentation, samples and
dropout from streams seeded by (recipe seed, epoch), so a training resumed from the checkpoint of
an epoch continues exactly as an uninterrupted one.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from mixsearch.search_space import ArchSpec, SearchSpace, resolve_layers
from mixsearch.search_space.errors import SpecError

from ..augment import distort
from ..config import ProxyConfig
from ..datasets import resolve_dataset
from ..errors import SupernetError
from ..proxy import channels_last, load_data, resolve_device, torch_settings
from ..proxy_shape import ProxyShape
from ..train import proxy_optimizer, proxy_scheduler  # the proxy's optimiser and schedule, so both train alike
from .checkpoint import save_supernet
from .net import SuperNet
from .recipe import SupernetRecipe
from .resume import checkpoint_path, load_checkpoint, restore, save_checkpoint

EpochReport = Callable[[int, dict[str, float]], Any]
SAMPLE_TRIES = 100  # draws per random member before giving up (members the proxy's width cannot build)


def dataset_label(config: ProxyConfig) -> str:
    """The data a supernet was trained on: the dataset and the sample of it (a supernet trained on
    other images could have seen the validation images it is scored on)."""
    kind, path = resolve_dataset(config.dataset)
    return (f"{kind}:{path}" if path else kind) + (
        f" (split_seed {config.split_seed}, test_fraction {config.test_fraction}, val_fraction {config.val_fraction}, "
        f"val_size {config.val_size}, train_size {config.train_size}, data_fraction {config.data_fraction})")


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """KL(teacher || student) of the softened predictions, mean over the batch, times T^2 so its
    gradients keep their scale as T changes (Hinton et al. 2015)."""
    log_student = F.log_softmax(student / temperature, dim=1)
    target = F.softmax(teacher.detach() / temperature, dim=1)
    return F.kl_div(log_student, target, reduction="batchmean") * temperature ** 2


def sandwich_archs(supernet: SuperNet, rng: np.random.Generator, random_archs: int) -> list[ArchSpec]:
    """Largest, smallest, then `random_archs` uniform samples of the space that the proxy can build."""
    archs = [supernet.largest, supernet.smallest]
    for _ in range(random_archs):
        for _ in range(SAMPLE_TRIES):
            arch = supernet.space.sample(rng)
            try:
                resolve_layers(supernet.shape.apply(arch))
            except SpecError:
                continue
            archs.append(arch)
            break
        else:
            raise SupernetError(f"no buildable member of space {supernet.space.name!r} in {SAMPLE_TRIES} samples at "
                                f"the proxy's width multiplier {supernet.width_mult}; use a larger proxy width_mult")
    return archs


def sandwich_step(supernet: SuperNet, x: torch.Tensor, y: torch.Tensor, archs: Sequence[ArchSpec],
                  recipe: SupernetRecipe, label_smoothing: float = 0.0) -> list[float]:
    """Gradients of one sandwich step accumulated into the supernet (the caller zeroes them first
    and steps the optimiser after); archs[0] is the teacher. Returns each member's loss."""
    losses, teacher = [], None
    for i, arch in enumerate(archs):
        logits = supernet(x, arch)
        if i == 0 or not recipe.distill:
            loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        else:
            loss = distillation_loss(logits, teacher, recipe.temperature)
        if i == 0:
            teacher = logits.detach()
        loss.backward()  # one member at a time: only one graph is alive
        losses.append(float(loss.detach()))
    return losses


def epoch_seed(recipe: SupernetRecipe, epoch: int) -> int:
    return recipe.seed * 100_003 + epoch


def train_supernet(space: SearchSpace, config: ProxyConfig, recipe: SupernetRecipe, out: str | os.PathLike, *,
                   resume: bool = False, progress: bool = True, report: EpochReport | None = None) -> SuperNet:
    """Train a supernet of `space` on `config`'s task and write it to `out` (save_supernet, with
    the recipe, proxy settings, data and timing as its extra values). A checkpoint `out.ckpt` is
    written after every epoch and removed at the end; resume=True continues from it. report(epoch,
    metrics) is called after each epoch's checkpoint (an exception it raises stops the training)."""
    start = time.monotonic()
    data = load_data(config)
    device = resolve_device(config)
    label = dataset_label(config)
    supernet = SuperNet(space, ProxyShape.of(config, data), dataset=label, kernel_transform=recipe.kernel_transform,
                        bn_momentum=config.bn_momentum, crop_to_input=config.crop_kernels, seed=recipe.seed)
    if config.zero_init_residual:
        zero_init_residual_positions(supernet)
    supernet.to(device)
    task = config.replace(lr=recipe.lr or config.lr)
    batch_size = min(config.batch_size, len(data.train_y))
    batches = len(data.train_y) // batch_size  # the ragged last batch dropped, as the proxy does
    optimizer = proxy_optimizer(supernet, task)
    scheduler = proxy_scheduler(optimizer, task, recipe.epochs * batches)
    identity = {"space_fingerprint": space.fingerprint(), "proxy": _settings(config), "data": label,
                "recipe": recipe.to_dict()}
    ckpt = checkpoint_path(out)
    first, history, seconds_before = 0, [], 0.0
    if resume:
        checkpoint = load_checkpoint(ckpt, identity)
        restore(checkpoint, supernet, optimizer, scheduler)
        first, history = checkpoint["meta"]["epochs_done"], checkpoint["meta"]["history"]
        seconds_before = checkpoint["meta"]["seconds"]
    with torch_settings(config):
        for epoch in range(first, recipe.epochs):
            metrics = _epoch(supernet, data, config, recipe, optimizer, scheduler, epoch, batch_size, batches, device,
                             progress)
            history.append(metrics)
            seconds = seconds_before + time.monotonic() - start
            save_checkpoint(ckpt, supernet, optimizer, scheduler,
                            {**identity, "epochs_done": epoch + 1, "history": history, "seconds": seconds})
            if report is not None:
                report(epoch, dict(metrics))
    save_supernet(supernet, out, extra={**identity, "history": history,
                                        "seconds": seconds_before + time.monotonic() - start})
    if os.path.exists(ckpt):
        os.remove(ckpt)
    return supernet


def zero_init_residual_positions(supernet: SuperNet) -> None:
    """The proxy's zero_init_residual on the supernet: every position after a stage's first is a
    residual block in every candidate, so its projection BN starts at gamma 0 (the block at identity)."""
    with torch.no_grad():
        for stage in supernet.stages:
            for block in list(stage)[1:]:
                block.project_bn.weight.zero_()


def _settings(config: ProxyConfig) -> dict[str, Any]:
    # Threads, device and the time limit change how fast, not what is trained.
    return {k: v for k, v in config.to_dict().items() if k not in ("threads", "device", "time_limit_s")}


def _epoch(supernet: SuperNet, data, config: ProxyConfig, recipe: SupernetRecipe, optimizer, scheduler, epoch: int,
           batch_size: int, batches: int, device: torch.device, progress: bool) -> dict[str, float]:
    epoch_start = time.monotonic()
    seed = epoch_seed(recipe, epoch)
    order = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(seed))
    augment = torch.Generator().manual_seed(seed + 1)
    totals = np.zeros(2 + recipe.random_archs)
    supernet.train()
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # dropout's draws: seeded per epoch, the caller's RNG untouched
        torch.manual_seed(seed + 2)
        bar = tqdm(range(batches), desc=f"supernet epoch {epoch + 1}/{recipe.epochs}", disable=not progress,
                   leave=False, unit="step")
        for b in bar:
            index = order[b * batch_size:(b + 1) * batch_size]
            x = distort(data.train_x[index], augment, config.shift, config.rotate, config.scale, config.noise,
                        config.flip)
            x, y = channels_last(x.to(device)), data.train_y[index].to(device)
            archs = sandwich_archs(supernet, np.random.default_rng([recipe.seed, epoch, b]), recipe.random_archs)
            optimizer.zero_grad(set_to_none=True)
            losses = sandwich_step(supernet, x, y, archs, recipe, config.label_smoothing)
            if not all(math.isfinite(v) for v in losses):
                raise SupernetError(f"supernet training loss is not finite ({losses}) at epoch {epoch} batch {b}; "
                                    "train with a lower --lr")
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            totals += losses
            bar.set_postfix(largest=f"{losses[0]:.3f}", smallest=f"{losses[1]:.3f}")
    mean = totals / batches
    return {"epoch": epoch, "largest_loss": float(mean[0]), "smallest_loss": float(mean[1]),
            "random_loss": float(mean[2:].mean()) if recipe.random_archs else None,
            "lr": optimizer.param_groups[0]["lr"], "seconds": time.monotonic() - epoch_start}
