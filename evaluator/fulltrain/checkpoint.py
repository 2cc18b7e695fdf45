"""Training checkpoints and model files on disk: tensors and plain values only.

A file is one `torch.save` of a dict: `format`, `schema_version`, `meta` (a JSON string: recipe,
arch YAML, epoch, history ...) and state dicts of tensors. It is written atomically (temp file +
rename: a kill never leaves half a file) and read with `torch.load(weights_only=True)`, which
unpickles nothing but tensors and plain containers. Anything else — junk bytes, a pickle of
objects, another program's file, another format of ours — is refused with one line.
"""
from __future__ import annotations

import io
import json
import os
from typing import Any, Mapping

import torch

from mixsearch.search_space.arch_io import write_atomic

from .errors import CheckpointError

SCHEMA_VERSION = 1
CHECKPOINT_FORMAT = "mixsearch-train-checkpoint"
MODEL_FORMAT = "mixsearch-trained-model"


def save_document(path: str | os.PathLike, fmt: str, meta: Mapping[str, Any],
                  states: Mapping[str, Mapping[str, Any]]) -> None:
    """states: name -> a state dict (of a module or an optimiser) moved to the CPU."""
    document = {"format": fmt, "schema_version": SCHEMA_VERSION, "meta": json.dumps(meta, sort_keys=True)}
    for name, state in states.items():
        document[name] = _to_cpu(state)
    buffer = io.BytesIO()
    torch.save(document, buffer)
    write_atomic(path, buffer.getvalue())


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def load_document(path: str | os.PathLike, fmt: str, states: tuple[str, ...]) -> tuple[dict[str, Any], dict]:
    """(meta, document) of a file of format `fmt` holding the state dicts `states`; CheckpointError otherwise."""
    what = "checkpoint" if fmt == CHECKPOINT_FORMAT else "trained model file"
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder; expected a {what}") from None
    except Exception as err:  # weights_only refuses pickled objects; torch raises several types for junk
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        raise CheckpointError(f"{path}: not a readable {what} (corrupt, or holds more than tensors: "
                              f"{type(err).__name__}: {first})") from None
    if not isinstance(document, dict) or document.get("format") != fmt:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise CheckpointError(f"{path}: not a mixsearch {what} (format {found!r}, expected {fmt!r})")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise CheckpointError(f"{path}: {what} schema_version {document.get('schema_version')!r}; this mixsearch "
                              f"reads {SCHEMA_VERSION}")
    try:
        meta = json.loads(document["meta"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}: the {what}'s metadata is missing or not JSON") from None
    for name in states:
        if not isinstance(document.get(name), dict):
            raise CheckpointError(f"{path}: the {what} has no state {name!r}")
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: the {what}'s metadata is not a mapping")
    return meta, document


def load_module_state(module: torch.nn.Module, state: Mapping[str, Any], path: str | os.PathLike,
                      what: str) -> None:
    """load_state_dict, strict; a state of another architecture is refused in one line."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, KeyError) as err:
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: the {what} weights do not fit the architecture ({first})") from None
