"""`mixsearch space info [SPACE]` and `mixsearch space sample [SPACE] --seed N --out arch.yaml`."""
from __future__ import annotations

import argparse
import math
from collections import Counter

import numpy as np

from mixsearch.search_space import count_flops, count_params, dump_arch, load_preset, preset_names, save_arch
from mixsearch.search_space.layers import BlockLayer
from mixsearch.search_space.safe_io import check_output
from mixsearch.search_space.space import SearchSpace, load_space

from .values import check_seed

SPACE_HELP = "a search space YAML or a shipped space name (default: 'default', the MixNet-S-like space)"


def register(subparsers) -> None:
    p = subparsers.add_parser("space", help="inspect or sample a search space")
    commands = p.add_subparsers(dest="space_command", metavar="{info,sample}", required=True)
    info = commands.add_parser("info", help="size, FLOP range, presets inside, distinct layers")
    info.add_argument("space", nargs="?", default="default", help=SPACE_HELP)
    info.set_defaults(func=handle_info)
    sample = commands.add_parser("sample", help="draw one architecture with a seeded generator")
    sample.add_argument("space", nargs="?", default="default", help=SPACE_HELP)
    sample.add_argument("--seed", type=int, default=0, help="seed of the generator (default 0)")
    sample.add_argument("--out", help="write the architecture YAML here (default: print it)")
    sample.set_defaults(func=handle_sample)


def format_info(space: SearchSpace) -> str:
    size = space.size()
    layers = space.possible_layers()
    by_kind = Counter(f"block at {layer.in_size}x{layer.in_size}" if isinstance(layer, BlockLayer)
                      else type(layer).__name__.replace("Layer", "").lower() for layer in layers)
    inside = [name for name in preset_names() if space.contains(load_preset(name))]
    lines = [
        f"space:            {space.name}  ({space.resolution}x{space.resolution}, {space.num_classes} classes, "
        f"{len(space.stages)} stages)",
        f"fingerprint:      {space.fingerprint()}",
        f"architectures:    {size:.4g} (log10 {math.log10(size):.2f})",
        f"multiply-adds:    {space.min_flops() / 1e6:.1f}M .. {space.max_flops() / 1e6:.1f}M",
        f"parameters:       {space.min_params() / 1e6:.2f}M .. {space.max_params() / 1e6:.2f}M",
        f"choice vector:    {len(space.choice_sizes)} positions",
        f"presets inside:   {', '.join(inside) or 'none'}",
        f"distinct layers:  {len(layers)}  ("
        + ", ".join(f"{kind}: {n}" for kind, n in sorted(by_kind.items(), key=lambda kv: _order(kv[0]))) + ")",
    ]
    return "\n".join(lines) + "\n"


def _order(kind: str) -> tuple:
    """stem, blocks from the largest feature map down, head."""
    if kind.startswith("block"):
        return (1, -int(kind.split()[-1].split("x")[0]))
    return (0 if kind == "stem" else 2, 0)


def handle_info(args: argparse.Namespace) -> int:
    print(format_info(load_space(args.space)), end="")
    return 0


def handle_sample(args: argparse.Namespace) -> int:
    check_seed("--seed", args.seed)
    if args.out is not None:
        check_output(args.out, inputs=[args.space])  # a shipped name is no file and matches nothing
    space = load_space(args.space)
    arch = space.sample(np.random.default_rng(args.seed))
    arch = arch.replace(name=f"{space.name}_seed{args.seed}")
    metadata = {"space": space.name, "space_fingerprint": space.fingerprint(), "seed": args.seed,
                "flops": count_flops(arch), "params": count_params(arch)}
    if args.out is not None:
        save_arch(arch, args.out, metadata)  # atomic; refuses what check_output refused
        print(f"wrote {args.out}: {arch.name}, {metadata['flops'] / 1e6:.1f}M multiply-adds, "
              f"{metadata['params'] / 1e6:.2f}M params, {arch.num_layers} layers")
    else:
        print(dump_arch(arch, metadata), end="")
    return 0
