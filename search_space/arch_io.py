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
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .block_string import encode_block
from .errors import SpecError
from .layers import resolve_layers
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
        arch = ArchSpec.from_dict(fields)
        resolve_layers(arch)  # channel counts that cannot split into their groups fail here, naming the file
        return arch, metadata
    except SpecError as err:
        raise err.with_source(source) from None


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError("", f"not valid YAML{where}: {problem}", source=source) from None


def read_text(path: str | os.PathLike) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        raise SpecError("", "file not found; give the path of an architecture YAML "
                            "(or a preset name: " + ", ".join(preset_names()) + ")", source=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as err:
        raise SpecError("", f"cannot read: {err.__class__.__name__}", source=str(path)) from None


def load_arch_with_metadata(path: str | os.PathLike) -> tuple[ArchSpec, dict]:
    return arch_from_document(parse_yaml(read_text(path), str(path)), str(path))


def load_arch(path_or_preset: str | os.PathLike) -> ArchSpec:
    """An ArchSpec from a YAML file, or from a preset name such as 'mixnet_s'."""
    if isinstance(path_or_preset, str) and path_or_preset in preset_names():
        return load_preset(path_or_preset)
    return load_arch_with_metadata(path_or_preset)[0]


def loads_arch(text: str, source: str = "<string>") -> ArchSpec:
    return arch_from_document(parse_yaml(text, source), source)[0]


def write_atomic(path: str | os.PathLike, content: str | bytes) -> None:
    """Write text or bytes via a temp file and rename, so a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
