"""The datasets that ship inside the package, and the script that builds the real-image one.

`cifar10-mini` (the default dataset): 12,000 CIFAR-10 training images, 1,200 of each class, drawn
stratified and seeded from the 50,000 of `../shared/data/cifar10/train` and kept as their original
JPEG bytes (no re-encoding; about 11 MB). Source: the CIFAR-10 dataset, Alex Krizhevsky, "Learning
Multiple Layers of Features from Tiny Images", 2009, from a public copy that stores each 32x32
image as a JPEG (quality about 75). Rebuild it with

    python -m mixsearch.evaluator.embedded ../shared/data/cifar10/train evaluator/data/cifar10_mini.npz

File layout (an uncompressed .npz, read without pickle): `jpeg` uint8 (all images' bytes one after
another), `offsets` int64 (N+1; image i is jpeg[offsets[i]:offsets[i+1]]), `labels` int64 (N),
`class_names` and `files` (unicode; `files` names each image's source file).
"""
from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .formats import Source, image_folder_listing, check_labels, encoded_images

DATA_DIR = Path(__file__).parent / "data"
EMBEDDED = {"cifar10-mini": "cifar10_mini.npz"}
PER_CLASS = 1_200
SEED = 0


def open_embedded(name: str) -> Source:
    path = DATA_DIR / EMBEDDED[name]
    if not path.is_file():
        raise DatasetError(f"{path}: the embedded dataset {name!r} is missing from this installation; "
                           "reinstall mixsearch, or use --dataset digits or a dataset path")
    with np.load(path, allow_pickle=False) as archive:
        blob, offsets, labels = archive["jpeg"], archive["offsets"], archive["labels"]
        names = tuple(str(n) for n in archive["class_names"])
    check_labels(labels, str(path), names=len(names))
    return encoded_images(blob, offsets, labels, names, name, str(path))


def build(source: Path, out: Path, per_class: int = PER_CLASS, seed: int = SEED) -> dict[str, int]:
    """Draw `per_class` files of each class of the ImageFolder `source` (seeded, sorted within a
    class) and write them, bytes unchanged, to `out`."""
    class_names, files, labels_all, _ = image_folder_listing(source)  # the same listing image_folder reads
    labels_array = np.asarray(labels_all)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    labels: list[int] = []
    for index, name in enumerate(class_names):
        members = [files[i] for i in np.flatnonzero(labels_array == index)]
        if len(members) < per_class:
            raise DatasetError(f"{source / name}: {len(members)} images; the subset takes {per_class} per class")
        pick = np.sort(rng.choice(len(members), size=per_class, replace=False))
        chosen += [str(members[i].relative_to(source)) for i in pick]
        labels += [index] * per_class
    payloads = [(source / relative).read_bytes() for relative in chosen]
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in payloads])]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, jpeg=np.frombuffer(b"".join(payloads), dtype=np.uint8), offsets=offsets,
             labels=np.asarray(labels, dtype=np.int64), class_names=np.asarray(class_names),
             files=np.asarray(chosen))
    temp = out.with_name(out.name + ".tmp")
    temp.write_bytes(buffer.getvalue())
    os.replace(temp, out)
    return {"images": len(chosen), "bytes": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the embedded CIFAR-10 subset from an ImageFolder.")
    parser.add_argument("source", type=Path, help="the CIFAR-10 training ImageFolder (../shared/data/cifar10/train)")
    parser.add_argument("out", type=Path, help="the .npz to write (evaluator/data/cifar10_mini.npz)")
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        summary = build(args.source, args.out, args.per_class, args.seed)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{args.out}: {summary['images']} images, {summary['bytes'] / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
