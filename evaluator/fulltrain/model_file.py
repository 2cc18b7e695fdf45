"""The trained model a user takes away: model.pt (weights + arch YAML + recipe + figures) and
model.onnx (the same weights), the ONNX outputs checked against torch before it is kept.

    from mixsearch.evaluator.fulltrain import load_trained
    model = load_trained("train/NAME/model.pt")   # the network rebuilt, weights loaded, eval mode
    logits = model(preprocess(model, images))     # uint8 images (N, C, H, W), any size
    names = [model.info["input"]["class_names"][i] for i in logits.argmax(1)]

`model.arch` is the ArchSpec it was built from, `model.recipe` the TrainRecipe, `model.info`
the recorded figures (test accuracy, resolution, stem stride, data sizes) and `info["input"]`,
how the training images were read: pixels / 255, resized to `info["resolution"]`, then
normalised by the training sample's per-channel `mean` and `std` (model.onnx takes the same input).
"""
from __future__ import annotations

import io
import os
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from mixsearch.search_space import ArchSpec, build_model, dump_arch, loads_arch
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import SpecError

from .checkpoint import MODEL_FORMAT, load_document, load_module_state, save_document
from .errors import CheckpointError, RecipeError
from .recipe import TrainRecipe

ONNX_OPSET = 17
# ONNX Runtime and torch sum in different orders (and fold BN differently): logits agree to a
# relative ~1e-4; the check allows 1e-3 of the largest logit (at least 1e-3 absolute).
ONNX_TOLERANCE = 1e-3


def save_trained(path: str | os.PathLike, model: nn.Module, arch: ArchSpec, recipe: TrainRecipe,
                 info: Mapping[str, Any]) -> None:
    meta = {"arch_yaml": dump_arch(arch), "recipe": recipe.to_dict(), "info": dict(info)}
    save_document(path, MODEL_FORMAT, meta, {"state": model.state_dict()})


def load_trained(path: str | os.PathLike) -> nn.Module:
    """The trained network of `path` (a model.pt written by `mixsearch train`), rebuilt from its arch
    YAML with its weights, on the CPU, in eval mode; `.arch`, `.recipe` and `.info` attached."""
    meta, document = load_document(path, MODEL_FORMAT, ("state",))
    try:
        arch = loads_arch(meta["arch_yaml"], source=f"{path} (arch)")
        recipe = TrainRecipe.from_dict(meta["recipe"])
    except (KeyError, TypeError):
        raise CheckpointError(f"{path}: the model file lacks its arch or recipe") from None
    except (SpecError, RecipeError) as err:
        raise CheckpointError(f"{path}: the model file's arch or recipe does not parse ({err})") from None
    model = build_model(arch)
    load_module_state(model, document["state"], path, "model")
    model.eval()
    model.recipe = recipe
    model.info = meta.get("info", {})
    return model


def preprocess(model: nn.Module, images) -> torch.Tensor:
    """uint8 images (N, C, H, W; array or tensor) as `model` (from load_trained) was trained on them:
    scaled to [0, 1], resized to its resolution, normalised by its training statistics."""
    from mixsearch.evaluator.datasets import to_pixels

    read = model.info.get("input") or {}
    if "mean" not in read or "std" not in read:
        raise CheckpointError("the model file records no input statistics (written by an older mixsearch); "
                              "normalise its inputs as mixsearch.evaluator.load_split does")
    stats = (read["mean"], read["std"])
    if not all(isinstance(s, list) and s and len(s) == len(stats[0]) for s in stats) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for s in stats for v in s) \
            or min(read["std"]) <= 0:
        raise CheckpointError(f"the model file's info.input mean/std are not equal-length lists of finite numbers "
                              f"(std > 0): got {read['mean']!r} / {read['std']!r}; retrain or fix the file")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != len(read["mean"]):
        raise CheckpointError(f"images: expected uint8 (N, {len(read['mean'])}, H, W), got {images.dtype} "
                              f"{tuple(images.shape)}")
    mean = torch.tensor(read["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(read["std"]).view(1, -1, 1, 1)
    return (to_pixels(images, int(model.info["resolution"])) - mean) / std


def export_trained_onnx(model: nn.Module, path: str | os.PathLike, sample: torch.Tensor) -> float:
    """Write `model` (eval, CPU) as ONNX (input 'input' N x C x H x W, output 'logits', batch
    dynamic), run `sample` through ONNX Runtime and torch, and return the largest absolute
    difference of the logits; a difference above ONNX_TOLERANCE is an error and nothing is kept."""
    import onnxruntime

    model = model.eval()
    buffer = io.BytesIO()
    torch.onnx.export(model, (sample[:1],), buffer, dynamo=False, opset_version=ONNX_OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(["logits"], {"input": sample.numpy()})
    with torch.no_grad():
        want = model(sample).numpy()
    difference = float(np.abs(got - want).max())
    allowed = ONNX_TOLERANCE * max(1.0, float(np.abs(want).max()))
    if not difference <= allowed:
        raise CheckpointError(f"{path}: ONNX Runtime's logits differ from torch's by {difference:.3g} "
                              f"(> {allowed:.3g}); the model was not exported")
    write_atomic(path, buffer.getvalue())
    return difference
