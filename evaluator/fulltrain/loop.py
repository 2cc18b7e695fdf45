"""The final training of one architecture: epochs of a TrainRecipe, a checkpoint after each, the
trained model, its ONNX copy and its held-out test accuracy at the end.

Resume: every random draw is a pure function of (seed, epoch) — data order, augmentation and the
per-epoch seed of torch's global generator (dropout, drop-path) — so a checkpoint at an epoch
boundary (model, EMA, optimiser state, history; no RNG state) continues exactly: on the CPU a run
resumed after a kill ends bit-identical to an uninterrupted one with the same seed.

A folder holds one training: checkpoint.pt, metrics.csv, curves.png while it runs; model.pt,
model.onnx and result.json when it is done. Nothing is chosen on the test sample: the model kept is
the EMA after the last epoch, validated on the validation sample each epoch (for the curves).
"""
from __future__ import annotations

import contextlib
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mixsearch.search_space import ArchSpec, build_model, count_flops, count_params, dump_arch
from mixsearch.search_space.arch_io import write_atomic

from ..datasets import SplitData
from .augment import augment_batch
from .checkpoint import CHECKPOINT_FORMAT, load_document, load_module_state, save_document
from .drop_path import attach_drop_path
from .ema import WeightAverage
from .errors import CheckpointError, RecipeError, TrainingStopped
from .model_file import export_trained_onnx, save_trained
from .optim import make_optimizer
from .recipe import TrainRecipe
from .reports import write_curves, write_metrics
from .schedule import learning_rate
from .shape import load_data, trained_arch, training_resolution

CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
EVAL_BATCH = 512
ONNX_SAMPLE = 8

EpochReport = Callable[[dict[str, Any]], Any]


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """An independent seed per (training seed, epoch, stream): 0 data order and augmentation, 1 torch's global RNG."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


def train_arch(arch: ArchSpec, recipe: TrainRecipe, folder: str | Path, resume: bool = False,
               progress: bool = False, report: EpochReport | None = None) -> dict[str, Any]:
    """Train `arch` under `recipe` in `folder` and return the result (also written to result.json).

    resume: continue from folder's checkpoint (or return the finished result); without it a folder
    holding a training is refused. report(row) is called after each epoch's checkpoint is on disk."""
    folder = Path(folder)
    finished = _finished(folder, arch, recipe, resume)
    if finished is not None:
        return finished
    folder.mkdir(parents=True, exist_ok=True)
    with _torch_threads(recipe.threads):
        return _Training(arch, recipe, folder, resume, progress, report).run()


def _finished(folder: Path, arch: ArchSpec, recipe: TrainRecipe, resume: bool) -> dict[str, Any] | None:
    result_path, checkpoint = folder / RESULT, folder / CHECKPOINT
    if not resume and (result_path.exists() or checkpoint.exists()):
        raise CheckpointError(f"{folder}: already holds a training; pass --resume to continue it, or choose "
                              "another --name / --out")
    if not result_path.exists():
        return None
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(f"{result_path}: not a readable result ({err}); delete the folder to train again") \
            from None
    _check_same(result_path, result.get("arch_yaml"), result.get("recipe"), arch, recipe)
    return result


def _check_same(path: Path, arch_yaml: Any, recipe_dict: Any, arch: ArchSpec, recipe: TrainRecipe) -> None:
    """A checkpoint or result of another architecture or recipe is foreign: refused, never mixed in."""
    if arch_yaml != dump_arch(arch):
        raise CheckpointError(f"{path}: belongs to another architecture than {arch.name or 'the one given'}; "
                              "use another --name / --out, or delete it")
    if not isinstance(recipe_dict, dict):
        raise CheckpointError(f"{path}: has no recipe; delete it to train again")
    theirs = {k: v for k, v in recipe_dict.items() if k not in ("device", "threads")}
    ours = recipe.outcome_fields()
    changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if changed:
        key = changed[0]
        raise CheckpointError(f"{path}: was trained with {key} {theirs.get(key)!r}, this run has {ours.get(key)!r}; "
                              "resume with the same recipe, or use another --name / --out")


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise RecipeError(f"recipe.device: {name!r}, but torch {torch.__version__} sees "
                          f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} CUDA device(s); "
                          "use --device cpu or auto")
    return device


def build_trainable(arch: ArchSpec, recipe: TrainRecipe) -> nn.Module:
    """The seeded network with the recipe's BN momentum and a fan-in classifier initialisation: the
    reference U(+-1/sqrt(classes)) gives 10-class logits of std ~6 and a first loss of ~6."""
    torch.manual_seed(recipe.seed)
    model = build_model(arch)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = recipe.bn_momentum
    classifier = model.head.classifier
    bound = 1.0 / classifier.in_features ** 0.5
    with torch.no_grad():
        classifier.weight.uniform_(-bound, bound, generator=torch.Generator().manual_seed(recipe.seed))
    return model


class _Training:
    def __init__(self, arch: ArchSpec, recipe: TrainRecipe, folder: Path, resume: bool, progress: bool,
                 report: EpochReport | None):
        self.recipe, self.folder, self.progress, self.report = recipe, folder, progress, report
        self.source_arch = arch
        self.device = resolve_device(recipe.device)
        self.cuda = self.device.type == "cuda"
        self.resolution = training_resolution(arch, recipe)
        self.data: SplitData = load_data(recipe, self.resolution)
        self.arch = trained_arch(arch, recipe, self.data, self.resolution)
        self.model = build_trainable(self.arch, recipe).to(self.device)
        if self.cuda and recipe.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, recipe)
        self.average = WeightAverage(self.model, recipe.ema_decay) if recipe.ema_decay > 0 else None
        n = len(self.data.train_y)
        self.batch_size = min(recipe.batch_size, n)
        self.batches = n // self.batch_size  # the ragged last batch is dropped: BN needs > 1 sample
        self.total_steps = recipe.epochs * self.batches
        self.warmup_steps = min(self.total_steps, round(recipe.warmup_epochs * self.batches))
        self.padding = round(recipe.crop_padding * self.resolution)
        self.cutout = round(recipe.cutout * self.resolution)
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.checkpoint = folder / CHECKPOINT
        if resume and self.checkpoint.exists():
            self._restore()

    # ---- checkpoints ----------------------------------------------------------------------------
    def _meta(self, epochs_done: int) -> dict[str, Any]:
        return {"epochs_done": epochs_done, "arch_yaml": dump_arch(self.source_arch), "recipe": self.recipe.to_dict(),
                "trained_arch_yaml": dump_arch(self.arch), "history": self.history,
                "ema_updates": self.average.updates if self.average else 0}

    def _save(self, epochs_done: int) -> None:
        states = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                  "ema": self.average.model.state_dict() if self.average else {}}
        save_document(self.checkpoint, CHECKPOINT_FORMAT, self._meta(epochs_done), states)

    def _restore(self) -> None:
        meta, document = load_document(self.checkpoint, CHECKPOINT_FORMAT, ("model", "optimizer", "ema"))
        _check_same(self.checkpoint, meta.get("arch_yaml"), meta.get("recipe"), self.source_arch, self.recipe)
        epochs_done, history = meta.get("epochs_done"), meta.get("history")
        readable = isinstance(epochs_done, int) and 0 < epochs_done <= self.recipe.epochs and isinstance(history, list)
        if not readable:
            raise CheckpointError(f"{self.checkpoint}: its epoch count or history is unreadable; delete it to start "
                                  "over")
        load_module_state(self.model, document["model"], self.checkpoint, "model")
        if self.average:
            load_module_state(self.average.model, document["ema"], self.checkpoint, "EMA")
            self.average.updates = int(meta.get("ema_updates", 0))
        try:
            self.optimizer.load_state_dict(document["optimizer"])
        except (ValueError, KeyError, TypeError) as err:
            raise CheckpointError(f"{self.checkpoint}: the optimiser state does not fit ({err})") from None
        self.start_epoch, self.history = epochs_done, history

    # ---- the run ----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        start = time.monotonic()
        (self.folder / "stopped.txt").unlink(missing_ok=True)  # the reason of an earlier stop, now stale
        bar = _progress_bar(self.progress, self.total_steps, self.start_epoch * self.batches)
        hooks = attach_drop_path(self.model, self.recipe.drop_path)
        try:
            for epoch in range(self.start_epoch, self.recipe.epochs):
                row = self._epoch(epoch, bar)
                self.history.append(row)
                self._save(epoch + 1)
                write_metrics(self.folder / "metrics.csv", self.history)
                if self.report is not None:
                    self.report(dict(row))
        finally:
            bar.close()
            for hook in hooks:
                hook.remove()
        return self._finish(time.monotonic() - start)

    def _epoch(self, epoch: int, bar) -> dict[str, Any]:
        recipe, data = self.recipe, self.data
        epoch_start = time.monotonic()
        generator = torch.Generator().manual_seed(epoch_seed(recipe.seed, epoch, 0))
        torch.manual_seed(epoch_seed(recipe.seed, epoch, 1))  # dropout and drop-path masks of this epoch
        order = torch.randperm(len(data.train_y), generator=generator)
        self.model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(self.batches):
            index = order[b * self.batch_size:(b + 1) * self.batch_size]
            x = augment_batch(data.train_x[index], generator, recipe.augment, self.padding, self.cutout)
            x, y = self._to_device(x), data.train_y[index].to(self.device)
            step = epoch * self.batches + b
            lr = learning_rate(step, recipe.lr, self.warmup_steps, self.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            with self._autocast():
                logits = self.model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
            value = float(loss.detach())
            if not math.isfinite(value):
                self._stop(f"training loss is {value} at epoch {epoch} batch {b} (lr {lr:.4g})", epoch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.average:
                self.average.update(self.model)
            loss_sum += value * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
        val_loss, val_accuracy = self._evaluate(self._final_model(), data.val_x, data.val_y)
        if not math.isfinite(val_loss):
            self._stop(f"validation loss is {val_loss} after epoch {epoch}", epoch)
        return {"epoch": epoch, "lr": lr, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                "val_loss": val_loss, "val_accuracy": val_accuracy, "seconds": time.monotonic() - epoch_start}

    def _stop(self, reason: str, epoch: int) -> None:
        kept = (f"the last good checkpoint ({epoch} epoch(s) done) is kept at {self.checkpoint}" if epoch
                else "no epoch finished, so there is no checkpoint")
        message = f"{self.folder}: stopped: {reason}; {kept}; lower --lr (or raise --warmup-epochs) and train again"
        write_atomic(self.folder / "stopped.txt", message + "\n")
        raise TrainingStopped(message)

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cuda and self.recipe.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _autocast(self):
        if self.cuda and self.recipe.mixed_precision:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _final_model(self) -> nn.Module:
        return self.average.model if self.average else self.model

    @torch.no_grad()
    def _evaluate(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        model.eval()
        loss_sum, correct = 0.0, 0
        for start in range(0, len(y), EVAL_BATCH):
            images, labels = self._to_device(x[start:start + EVAL_BATCH]), y[start:start + EVAL_BATCH].to(self.device)
            with self._autocast():
                logits = model(images).float()
            loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
            correct += int((logits.argmax(1) == labels).sum())
        return loss_sum / len(y), correct / len(y)

    def _finish(self, seconds: float) -> dict[str, Any]:
        data, folder = self.data, self.folder
        final = self._final_model()
        test = data.test_y is not None and len(data.test_y) > 0
        test_loss, test_accuracy = self._evaluate(final, data.test_x, data.test_y) if test else (None, None)
        write_curves(folder / "curves.png", self.history, title=self.arch.name or "training")
        cpu_model = build_model(self.arch)
        cpu_model.load_state_dict({k: v.detach().cpu() for k, v in final.state_dict().items()})
        cpu_model.eval()
        sample = (data.test_x if test else data.val_x)[:ONNX_SAMPLE].contiguous()
        onnx_difference = export_trained_onnx(cpu_model, folder / "model.onnx", sample)
        result = {
            "name": self.source_arch.name, "test_accuracy": test_accuracy, "test_loss": test_loss,
            "val_accuracy": self.history[-1]["val_accuracy"], "epochs": self.recipe.epochs,
            "params": count_params(self.arch), "flops": count_flops(self.arch),
            "arch_params": count_params(self.source_arch), "arch_flops": count_flops(self.source_arch),
            "resolution": self.resolution, "stem_stride": self.arch.stem_stride, "width_mult": self.arch.width_mult,
            "train_images": len(data.train_y), "val_images": len(data.val_y),
            "test_images": len(data.test_y) if test else 0, "onnx_max_abs_difference": onnx_difference,
            "train_seconds": sum(row["seconds"] for row in self.history), "seconds_this_call": seconds,
            "device": str(self.device), "recipe": self.recipe.to_dict(), "arch_yaml": dump_arch(self.source_arch),
            # how to read new images: fulltrain.model_file.preprocess
            "input": {"pixels": "uint8 / 255", "mean": list(data.mean), "std": list(data.std),
                      "class_names": list(data.class_names)},
        }
        info = {k: v for k, v in result.items() if k not in ("recipe", "arch_yaml")}
        save_trained(folder / "model.pt", cpu_model, self.arch, self.recipe, info)
        write_atomic(folder / RESULT, json.dumps(result, indent=2, sort_keys=True) + "\n")
        return result


def _progress_bar(enabled: bool, total: int, initial: int):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="batch", dynamic_ncols=True, leave=True)
