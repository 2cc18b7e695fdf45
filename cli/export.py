"""`mixsearch export best.yaml --onnx model.onnx`: an architecture as an ONNX model."""
from __future__ import annotations

import argparse

from mixsearch.controller.export import export_onnx
from mixsearch.search_space import load_arch
from mixsearch.search_space.safe_io import check_output


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export an architecture YAML (or preset) as ONNX")
    p.add_argument("arch", help="architecture YAML, e.g. runs/<name>/best.yaml, or a preset name")
    p.add_argument("--onnx", required=True, help="output path of the ONNX model")
    p.add_argument("--resolution", type=int, help="input size (default: the architecture's)")
    p.add_argument("--num-classes", type=int, help="classifier width (default: the architecture's)")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    check_output(args.onnx, inputs=[args.arch])  # a preset name is no file and matches nothing
    arch = load_arch(args.arch)
    changes = {k: v for k, v in (("resolution", args.resolution), ("num_classes", args.num_classes)) if v is not None}
    if changes:
        arch = arch.replace(**changes)
    export_onnx(arch, args.onnx)
    print(f"wrote {args.onnx} (input 'input' N x {arch.in_chans} x {arch.resolution} x {arch.resolution}, "
          f"output 'logits' N x {arch.num_classes})")
    return 0
