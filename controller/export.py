"""Export an architecture (e.g. a search's best.yaml) as an ONNX model with freshly initialised
weights — the deployable graph of the discovered network, to train or to time elsewhere."""
from __future__ import annotations

import io
import os

import torch

from mixsearch.search_space import ArchSpec, build_model
from mixsearch.search_space.errors import MixsearchError

from mixsearch.search_space.arch_io import write_atomic

ONNX_OPSET = 17


class ExportError(MixsearchError):
    """The model could not be exported or written."""


def export_onnx(arch: ArchSpec, path: str | os.PathLike, batch: int = 1, seed: int = 0) -> torch.nn.Module:
    """Write `arch` as ONNX (input `input` of shape (batch, C, H, W), output `logits`, batch dynamic);
    returns the exported torch module (eval mode) so callers can compare outputs."""
    torch.manual_seed(seed)
    model = build_model(arch).eval()
    example = torch.zeros(batch, arch.in_chans, arch.resolution, arch.resolution)
    buffer = io.BytesIO()
    try:
        torch.onnx.export(model, (example,), buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    except Exception as err:  # noqa: BLE001 — the exporter's errors are many and unrelated to user input types
        raise ExportError(f"{arch.name or 'architecture'}: torch.onnx could not export it "
                          f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    write_atomic(path, buffer.getvalue())  # refuses a path that is not a regular file, in one line
    return model
