"""A supernet training's checkpoint: weights, optimiser and schedule after a finished epoch.

One `torch.save` file holding only tensors and one JSON string (weights_only=True reads it back):
the optimiser's tensors (momentum buffers, ...) by name, everything else of the optimiser and the
schedule, and what the training was for (space fingerprint, proxy settings, data, recipe), so a
checkpoint of another training is refused instead of silently continued.
"""
from __future__ import annotations

import io
import json
import os
from typing import Any

import torch

from mixsearch.search_space.arch_io import write_atomic

from ..errors import SupernetError

FORMAT = "mixsearch-supernet-checkpoint"


def checkpoint_path(out: str | os.PathLike) -> str:
    return f"{os.fspath(out)}.ckpt"


def save_checkpoint(path: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
                    meta: dict[str, Any]) -> None:
    """Written atomically; `meta` must hold plain values only (the epochs done, the identity)."""
    optimizer_state = optimizer.state_dict()
    tensors, plain = {}, {}
    for index, values in optimizer_state["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value.detach().cpu()
            else:
                plain[f"{index}.{name}"] = value
    document = {**meta, "optimizer_groups": optimizer_state["param_groups"], "optimizer_plain": plain,
                "scheduler": scheduler.state_dict() if scheduler is not None else None}
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "meta": json.dumps(document),
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": tensors}, buffer)
    write_atomic(path, buffer.getvalue())


def load_checkpoint(path: str, identity: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint at `path` as {"meta", "model", "optimizer"}; refused unless its identity
    (space fingerprint, proxy settings, data, recipe but its epochs) equals `identity`."""
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(document["meta"]) if isinstance(document, dict) and document.get("format") == FORMAT else None
    except FileNotFoundError:
        raise SupernetError(f"{path}: no checkpoint to resume from; start without --resume") from None
    except Exception as err:  # weights_only refuses pickled objects; junk raises several types
        raise SupernetError(f"{path}: not a readable supernet checkpoint ({type(err).__name__}); delete it and "
                            "start without --resume") from None
    if meta is None:
        raise SupernetError(f"{path}: not a mixsearch supernet checkpoint (no format {FORMAT!r})")
    for key, want in identity.items():
        if meta.get(key) != want:
            raise SupernetError(f"{path}: the checkpoint is of another training ({key} differs: {meta.get(key)!r} "
                                f"vs {want!r}); resume with its settings or delete it and start without --resume")
    return {"meta": meta, "model": document["model"], "optimizer": document["optimizer"]}


def restore(checkpoint: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: Any) -> None:
    meta, state = checkpoint["meta"], {}
    for key, value in [*checkpoint["optimizer"].items(), *meta["optimizer_plain"].items()]:
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer_groups"]})
    if scheduler is not None:
        scheduler.load_state_dict(meta["scheduler"])
