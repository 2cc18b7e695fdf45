"""Architecture YAML files: load (safe, strict), dump (blocks as compact strings), presets.

File layout (schema_version 1):
    schema_version: 1
    kind: arch
    name: mixnet_s
    resolution: 224 ... (every ArchSpec field but blocks)
    blocks: [ds_r1_k3_s1_e1_c16, ir_r1_k3_a1.1_p1.1_s2_e6_c24, ...]   # or mappings of BlockSpec fields
    metadata: {...}   # optional, free-form (measured figures of a search); not part of the spec
"""
from __future__ import annotations

import os
from importlib import resources
from typing import Any

import yaml

from . import safe_io
from .block_string import decode_block, encode_block
from .cost import check_model_size
from .errors import SpecError
from .layers import resolve_layers
from .safe_io import write_atomic  # noqa: F401  (the writer of every output; imported from here too)
from .spec import SCHEMA_VERSION, ArchSpec

_ENVELOPE = ("schema_version", "kind", "metadata")


def arch_to_document(arch: ArchSpec, metadata: dict | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": "arch"}
    doc.update({k: v for k, v in arch.to_dict().items() if k != "blocks"})
    doc["blocks"] = [encode_block(b, arch.act) for b in arch.blocks]
    if metadata:
        doc["metadata"] = metadata
    return doc


def dump_arch(arch: ArchSpec, metadata: dict | None = None) -> str:
    return yaml.safe_dump(arch_to_document(arch, metadata), sort_keys=False, default_flow_style=False)


def arch_from_document(doc: Any, source: str = "<string>") -> tuple[ArchSpec, dict]:
    """(spec, metadata) from a parsed YAML document; errors name `source` and the field."""
    try:
        if not isinstance(doc, dict):
            raise SpecError("", f"expected a mapping with an arch (blocks: [...]), got {type(doc).__name__}")
        version = doc.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise SpecError("schema_version", f"got {version!r}, this mixsearch reads {SCHEMA_VERSION}")
        if doc.get("kind", "arch") != "arch":
            raise SpecError("kind", f"got {doc.get('kind')!r}; an architecture file has kind 'arch'")
        metadata = doc.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise SpecError("metadata", f"expected a mapping, got {type(metadata).__name__}")
        fields = {k: v for k, v in doc.items() if k not in _ENVELOPE}
        if isinstance(fields.get("blocks"), list):  # blocks as timm strings; the spec reads mappings
            act = fields.get("act", "relu")
            default_act = act if isinstance(act, str) else "relu"
            fields["blocks"] = [decode_block(b, default_act, path=f"blocks[{i}]") if isinstance(b, str) else b
                                for i, b in enumerate(fields["blocks"])]
        arch = ArchSpec.from_dict(fields)
        resolve_layers(arch)  # channel counts that cannot split into their groups fail here, naming the file
        check_model_size(arch)
        return arch, metadata
    except SpecError as err:
        raise err.with_source(source) from None


def parse_yaml(text: str, source: str) -> Any:
    """A YAML document under safe_io's limits (nesting, aliases, duplicate keys), errors as SpecError."""
    try:
        return safe_io.parse_yaml(text, source)
    except safe_io.InputFileError as err:
        raise SpecError("", err.problem, source=source) from None


def read_spec_text(path: str | os.PathLike, what: str, hint: str) -> str:
    """A user's spec file (a `what`) under safe_io's checks; errors as SpecError naming the file,
    `hint` added when it does not exist."""
    try:
        return safe_io.read_text(path, what, hint=hint)
    except safe_io.InputFileError as err:
        raise SpecError("", err.problem, source=str(path)) from None


def load_arch_with_metadata(path: str | os.PathLike) -> tuple[ArchSpec, dict]:
    hint = "give the path of an architecture YAML (or a preset name: " + ", ".join(preset_names()) + ")"
    text = read_spec_text(path, "an architecture YAML", hint)
    return arch_from_document(parse_yaml(text, str(path)), str(path))


def load_arch(path_or_preset: str | os.PathLike) -> ArchSpec:
    """An ArchSpec from a YAML file, or from a preset name such as 'mixnet_s'."""
    if isinstance(path_or_preset, str) and path_or_preset in preset_names():
        return load_preset(path_or_preset)
    return load_arch_with_metadata(path_or_preset)[0]


def loads_arch(text: str, source: str = "<string>") -> ArchSpec:
    return arch_from_document(parse_yaml(text, source), source)[0]


def save_arch(arch: ArchSpec, path: str | os.PathLike, metadata: dict | None = None) -> None:
    write_atomic(path, dump_arch(arch, metadata))


def preset_names() -> list[str]:
    folder = resources.files("mixsearch.search_space") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_preset(name: str) -> ArchSpec:
    if name not in preset_names():
        raise SpecError("", f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    text = (resources.files("mixsearch.search_space") / "presets" / f"{name}.yaml").read_text()
    return loads_arch(text, source=f"preset {name}")
