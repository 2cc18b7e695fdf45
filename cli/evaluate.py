"""`mixsearch eval ARCH.yaml [--dataset D]`: score one architecture with the proxy training."""
from __future__ import annotations

import argparse

from mixsearch.evaluator import ProxyConfig, evaluate, proxy_arch, zero_cost_scores
from mixsearch.evaluator.proxy import load_data
from mixsearch.search_space import count_flops, count_params, load_arch

# flag -> ProxyConfig field; only flags the user gave override the measured defaults.
OVERRIDES = {"dataset": "dataset", "epochs": "epochs", "resolution": "resolution", "width": "width_mult",
             "batch_size": "batch_size", "data_fraction": "data_fraction", "lr": "lr", "seed": "seed",
             "repeats": "repeats", "threads": "threads", "device": "device", "time_limit": "time_limit_s",
             "train_size": "train_size", "val_size": "val_size", "data_cache": "data_cache", "score_split": "score_split"}


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="train the proxy of one architecture and print its score",
                              description="Train the proxy of an architecture (defaults: ProxyConfig) and print "
                                          "validation accuracy, params, FLOPs and time.")
    p.add_argument("arch", help="arch YAML file or preset name (mixnet_s, ...)")
    p.add_argument("--dataset", help="'cifar10-mini' (default: 12,000 embedded CIFAR-10 images), 'digits', an .npz, "
                                     "a CIFAR folder, an ImageFolder directory, or imagefolder:/cifar:/npz: + path")
    p.add_argument("--train-size", type=_size, help="training images: a total (5000) or per class (500/class)")
    p.add_argument("--val-size", type=_size, help="validation images: a total or per class")
    p.add_argument("--test", action="store_const", const="test", dest="score_split",
                   help="score on the held-out test sample (a final figure; never choose anything on it)")
    p.add_argument("--no-data-cache", action="store_false", dest="data_cache", default=None,
                   help="decode the sampled images in this process instead of once into $MIXSEARCH_CACHE/data")
    p.add_argument("--epochs", type=int)
    p.add_argument("--resolution", type=int)
    p.add_argument("--width", type=float, help="width scale of the proxy model")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--data-fraction", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--repeats", type=int, help="trainings under seeds seed, seed+1, ...; scores are their mean")
    p.add_argument("--threads", type=int)
    p.add_argument("--device", help="cpu (default), cuda, cuda:N, or auto (cuda when a GPU is visible)")
    p.add_argument("--time-limit", type=float, help="seconds per candidate")
    p.add_argument("--zero-cost", action="store_true", help="also print the zero-cost proxy scores")
    p.set_defaults(func=handle)


def _size(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def handle(args: argparse.Namespace) -> int:
    arch = load_arch(args.arch)
    config = ProxyConfig(**{field: getattr(args, flag) for flag, field in OVERRIDES.items()
                            if getattr(args, flag) is not None})
    data = load_data(config)
    small = proxy_arch(arch, config, data)
    print(f"arch: {arch.name or args.arch}: params {count_params(arch):,}, FLOPs {count_flops(arch) / 1e6:.1f}M "
          f"multiply-adds at {arch.resolution}px, {arch.num_classes} classes")
    scored = f"{len(data.test_y)} test (scored)" if config.score_split == "test" else f"{len(data.val_y)} val"
    print(f"proxy: {config.dataset} ({len(data.train_y)} train / {scored}, {data.num_classes} classes), "
          f"{config.resolution}px, width x{small.width_mult:g}, stem stride {small.stem_stride}, "
          f"{config.epochs} epoch(s) x {config.repeats} seed(s): params {count_params(small):,}, "
          f"FLOPs {count_flops(small) / 1e6:.1f}M")
    if args.zero_cost:
        scores = zero_cost_scores(arch, config)
        print("zero-cost: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
    result = evaluate(arch, config, report=lambda epoch, m: print(
        f"epoch {epoch}: train_loss {m['train_loss']:.4f}, val_loss {m['val_loss']:.4f}, "
        f"val_accuracy {m['val_accuracy']:.4f}, {m['seconds']:.1f} s", flush=True))
    if not result.ok:
        print(f"failed ({result.failure.kind}): {result.failure.message}; time {result.seconds:.1f} s")
        return 1
    print(f"accuracy: {result.accuracy:.4f}, val_loss {result.val_loss:.4f}, time {result.seconds:.1f} s")
    return 0
