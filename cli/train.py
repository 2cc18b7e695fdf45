"""`mixsearch train ARCH --dataset D`: train an architecture for real and keep the trained model.

ARCH is an arch YAML, a run folder (its best.yaml) or a preset name. The recipe's defaults are
`TrainRecipe`'s (evaluator/fulltrain/recipe.py); a `--recipe` YAML and the flags override them.
Outputs in OUT/NAME/: checkpoint.pt, metrics.csv, curves.png, then model.pt, model.onnx, result.json.
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mixsearch.controller.compare import resolve_arch
from mixsearch.evaluator.fulltrain import TrainRecipe, TrainingStopped, train_arch
from mixsearch.evaluator.fulltrain.recipe import AUGMENTS, OPTIMIZERS
from mixsearch.search_space.arch_io import parse_yaml, read_spec_text

from .values import check_seed

# flag -> TrainRecipe field; only flags given override the recipe file and the defaults.
RECIPE_FLAGS = {"dataset": "dataset", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
                "optimizer": "optimizer", "weight_decay": "weight_decay", "warmup_epochs": "warmup_epochs",
                "label_smoothing": "label_smoothing", "ema_decay": "ema_decay", "augment": "augment",
                "drop_path": "drop_path", "resolution": "resolution", "stem_stride": "stem_stride",
                "width": "width_mult", "train_size": "train_size", "val_size": "val_size", "device": "device",
                "threads": "threads"}


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train an architecture for real; keep model.pt and model.onnx",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("arch", help="arch YAML, run folder (its best.yaml) or preset name (mixnet_s, ...)")
    p.add_argument("--out", default="train", help="parent folder of the training folder (default: train)")
    p.add_argument("--name", help="training folder name (default: the arch's name)")
    p.add_argument("--resume", action="store_true", help="continue the folder's checkpoint (after Ctrl-C or a kill)")
    p.add_argument("--seed", type=int, help="training seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_recipe_arguments(p)
    p.set_defaults(func=handle)


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    defaults = TrainRecipe()
    p.add_argument("--dataset", help="'cifar10-mini' (default), 'digits', an .npz, a CIFAR folder, an ImageFolder "
                                     "directory, or imagefolder:/cifar:/npz: + path")
    p.add_argument("--recipe", help="YAML mapping of TrainRecipe fields (flags override it)")
    p.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    p.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    p.add_argument("--lr", type=float, help=f"peak learning rate at the batch size (default {defaults.lr})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd (Nesterov, default) or rmsprop (MnasNet/MixNet)")
    p.add_argument("--weight-decay", type=float, help=f"on conv/linear weights only (default {defaults.weight_decay})")
    p.add_argument("--warmup-epochs", type=float, help=f"linear warm-up before the cosine (default "
                                                       f"{defaults.warmup_epochs:g})")
    p.add_argument("--label-smoothing", type=float, help=f"default {defaults.label_smoothing}")
    p.add_argument("--ema-decay", type=float, help=f"weight average exported (default {defaults.ema_decay}; 0 = off)")
    p.add_argument("--augment", choices=AUGMENTS, help=f"default {defaults.augment}")
    p.add_argument("--drop-path", type=float, help=f"stochastic depth at the last block (default {defaults.drop_path})")
    p.add_argument("--resolution", type=int, help="input size (default: the data's, at most the arch's)")
    p.add_argument("--stem-stride", type=int, choices=(1, 2), help="default: 1 below 64 px, else the arch's")
    p.add_argument("--width", type=float, help="scale of the arch's own width (default 1 = the arch itself)")
    p.add_argument("--train-size", type=_size, help="training images: a total or per class ('500/class')")
    p.add_argument("--val-size", type=_size, help=f"validation images (default {defaults.val_size})")
    p.add_argument("--device", help="cpu (default), cuda, cuda:N or auto")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")


def _size(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def recipe_from_args(args: argparse.Namespace) -> TrainRecipe:
    values = {}
    if args.recipe:
        document = parse_yaml(read_spec_text(args.recipe, "a training recipe YAML", "give the path of a YAML "
                                             f"mapping of {', '.join(f.name for f in dataclasses.fields(TrainRecipe))}"),
                              args.recipe)
        values.update(TrainRecipe.from_dict(document).to_dict())
    values.update({field: getattr(args, flag) for flag, field in RECIPE_FLAGS.items()
                   if getattr(args, flag) is not None})
    if getattr(args, "seed", None) is not None:
        values["seed"] = check_seed("--seed", args.seed)
    return TrainRecipe.from_dict(values)


def handle(args: argparse.Namespace) -> int:
    arch = resolve_arch(args.arch)
    recipe = recipe_from_args(args)
    name = args.name or arch.name or Path(args.arch).stem
    folder = Path(args.out) / name
    print(f"training {arch.name or args.arch} on {recipe.dataset}: {recipe.epochs} epochs, batch {recipe.batch_size}, "
          f"{recipe.optimizer} lr {recipe.lr:g}, seed {recipe.seed} -> {folder}", flush=True)
    try:
        result = train_arch(arch, recipe, folder, resume=args.resume, progress=not args.no_progress)
    except TrainingStopped as err:
        print(f"mixsearch: {err}")
        return 1
    test = "none held out" if result["test_accuracy"] is None else f"{100 * result['test_accuracy']:.2f}%"
    print(f"trained at {result['resolution']} px, stem stride {result['stem_stride']}, width x{result['width_mult']:g}: "
          f"params {result['params']:,}, FLOPs {result['flops'] / 1e6:.1f}M; {result['train_images']} train / "
          f"{result['val_images']} val / {result['test_images']} test images")
    print(f"test accuracy (held out, EMA weights): {test}; last val accuracy {100 * result['val_accuracy']:.2f}%; "
          f"training {result['train_seconds']:.0f} s")
    print(f"wrote {folder}/model.pt (load: mixsearch.evaluator.fulltrain.load_trained(path)), {folder}/model.onnx "
          f"(max |onnx - torch| {result['onnx_max_abs_difference']:.1e}), metrics.csv, curves.png, result.json")
    return 0
