"""A supernet on disk: its state dict and plain metadata (the space, its fingerprint, the proxy
shape, the dataset label, the options) in one `torch.save` file, read back with weights_only=True,
so loading unpickles nothing but tensors and plain values. A supernet for another space, proxy
shape or dataset is refused with one line naming the difference."""
from __future__ import annotations

import io
import json
import os
from typing import Any, Mapping

import torch

from mixsearch.search_space import SearchSpace
from mixsearch.search_space.arch_io import write_atomic
from mixsearch.search_space.errors import SpecError

from ..errors import SupernetError
from ..proxy_shape import ProxyShape
from .net import SuperNet

FORMAT = "mixsearch-supernet"
SCHEMA_VERSION = 1
TRAIN_HINT = "train one for it (mixsearch supernet train)"


def supernet_metadata(supernet: SuperNet) -> dict[str, Any]:
    """Everything needed to rebuild the supernet and to tell what it was trained for; plain values."""
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "space": supernet.space.to_dict(),
            "space_fingerprint": supernet.space.fingerprint(), "shape": supernet.shape.to_dict(),
            "dataset": supernet.dataset, "kernel_transform": supernet.kernel_transform,
            "bn_momentum": supernet.bn_momentum}


def save_supernet(supernet: SuperNet, path: str | os.PathLike, extra: Mapping[str, Any] | None = None) -> None:
    """Written atomically. extra: plain values kept beside the weights (e.g. the training recipe)."""
    extra = dict(extra or {})
    json.dumps(extra)  # TypeError for anything but plain values, which weights_only could not read back
    state = {name: tensor.detach().cpu() for name, tensor in supernet.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({**supernet_metadata(supernet), "extra": extra, "state": state}, buffer)
    write_atomic(path, buffer.getvalue())


def load_supernet(path: str | os.PathLike, space: SearchSpace | None = None, shape: ProxyShape | None = None,
                  dataset: str | None = None) -> tuple[SuperNet, dict[str, Any]]:
    """The supernet saved at `path` (on the CPU) and its `extra` values. With space / shape /
    dataset given, a supernet trained for anything else is refused (SupernetError)."""
    document = _read(path)
    meta_space = document["space"]
    if space is not None and document["space_fingerprint"] != space.fingerprint():
        raise SupernetError(f"{path}: the supernet is of space {meta_space.get('name')!r} (fingerprint "
                            f"{document['space_fingerprint'][:12]}), not of space {space.name!r} "
                            f"({space.fingerprint()[:12]}); use its space or {TRAIN_HINT}")
    if space is None:
        try:
            space = SearchSpace.from_dict(meta_space)
        except SpecError as err:
            raise SupernetError(f"{path}: the supernet's space does not parse: {err}") from None
    try:
        saved_shape = ProxyShape(**document["shape"])
    except TypeError as err:
        raise SupernetError(f"{path}: the supernet's proxy shape is not readable ({err})") from None
    if shape is not None:
        for field, want in shape.to_dict().items():
            if getattr(saved_shape, field) != want:
                raise SupernetError(f"{path}: the supernet was trained with proxy {field} {getattr(saved_shape, field)!r}, "
                                    f"this evaluation has {want!r}; use the same proxy settings or {TRAIN_HINT}")
    if dataset is not None and document["dataset"] != dataset:
        raise SupernetError(f"{path}: the supernet was trained on dataset {document['dataset']!r}, not {dataset!r}; "
                            f"{TRAIN_HINT}")
    supernet = SuperNet(space, saved_shape, dataset=document["dataset"], kernel_transform=document["kernel_transform"],
                        bn_momentum=document["bn_momentum"])
    try:
        supernet.load_state_dict(document["state"])
    except (RuntimeError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SupernetError(f"{path}: the supernet's weights do not fit its space ({first})") from None
    return supernet, document["extra"]


_REQUIRED = {"space": dict, "space_fingerprint": str, "shape": dict, "dataset": str, "kernel_transform": bool,
             "bn_momentum": float, "extra": dict, "state": dict}


def _read(path: str | os.PathLike) -> dict[str, Any]:
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise SupernetError(f"{path}: no such supernet file; {TRAIN_HINT}") from None
    except Exception as err:  # weights_only refuses pickled objects; torch raises several types for junk
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise SupernetError(f"{path}: not a readable supernet file ({type(err).__name__}: {message[:200]})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SupernetError(f"{path}: not a mixsearch supernet file (no format {FORMAT!r})")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise SupernetError(f"{path}: supernet schema_version {document.get('schema_version')!r}, this mixsearch "
                            f"reads {SCHEMA_VERSION}")
    for key, kind in _REQUIRED.items():
        if not isinstance(document.get(key), kind):
            raise SupernetError(f"{path}: field {key!r} of the supernet file is missing or not a {kind.__name__}")
    return document
