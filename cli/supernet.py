"""`mixsearch supernet train|score`: train a weight-sharing supernet of a space on the proxy's task,
and score architectures with one (inherited weights, BN recalibrated, validated)."""
from __future__ import annotations

import argparse

from mixsearch.evaluator import ProxyConfig, ProxyConfigError
from mixsearch.evaluator.supernet import SupernetRecipe, SupernetScorer, train_supernet
from mixsearch.search_space import load_arch, load_space
from mixsearch.search_space.safe_io import parse_yaml, read_text

# flag -> ProxyConfig field: the task both commands share (a supernet is scored on the task it was trained on).
PROXY_FLAGS = {"dataset": "dataset", "threads": "threads", "device": "device"}


def register(subparsers) -> None:
    p = subparsers.add_parser("supernet", help="train a weight-sharing supernet, or score architectures with one",
                              description="One-shot scoring: train a supernet of a search space on the proxy's task "
                                          "(sandwich rule, in-place distillation), then score candidates with it.")
    commands = p.add_subparsers(dest="supernet_command", metavar="COMMAND", required=True)
    train = commands.add_parser("train", help="train a supernet and write it (default supernet.pt)")
    _task_arguments(train)
    train.add_argument("--out", default="supernet.pt", help="where the supernet goes (default: supernet.pt); "
                                                            "its checkpoint is OUT.ckpt while training")
    train.add_argument("--resume", action="store_true", help="continue from OUT.ckpt")
    train.add_argument("--epochs", type=int, help=f"supernet epochs (default {SupernetRecipe.epochs})")
    train.add_argument("--random-archs", type=int, help="random members per step beside the largest and smallest "
                                                        f"(default {SupernetRecipe.random_archs})")
    train.add_argument("--no-distill", action="store_false", dest="distill", default=None,
                       help="train every member on the labels instead of the largest's predictions")
    train.add_argument("--temperature", type=float, help="distillation temperature (default 1)")
    train.add_argument("--lr", type=float, help="peak learning rate (default: the proxy's)")
    train.add_argument("--kernel-transform", action="store_true", default=None,
                       help="learned kernel transforms (Once-for-All) on the centred crops")
    train.add_argument("--seed", type=int, help="initialisation, data order and sampled members (default 0)")
    train.add_argument("--no-progress", action="store_false", dest="progress", help="no progress bar")
    train.set_defaults(func=handle_train)
    score = commands.add_parser("score", help="score architectures with a trained supernet")
    score.add_argument("arch", nargs="+", help="arch YAML files or preset names")
    score.add_argument("--supernet", required=True, help="a supernet file (mixsearch supernet train)")
    _task_arguments(score)
    score.set_defaults(func=handle_score)


def _task_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="default", help="search space name or YAML (default: default)")
    p.add_argument("--dataset", help="proxy dataset: cifar10-mini (default), digits, or a path (an .npz, a CIFAR "
                                     "folder, an ImageFolder)")
    p.add_argument("--proxy", metavar="FILE", help="YAML file of proxy settings (ProxyConfig fields): the task")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument("--device", help="cpu (default), cuda, cuda:N or auto")


def _config(args: argparse.Namespace) -> ProxyConfig:
    settings = {}
    if args.proxy:
        settings = parse_yaml(read_text(args.proxy, "a proxy settings YAML"), args.proxy) or {}
        if not isinstance(settings, dict):
            raise ProxyConfigError(f"--proxy {args.proxy}: expected a mapping of ProxyConfig fields")
        try:
            ProxyConfig.from_dict(settings)
        except ProxyConfigError as err:
            raise ProxyConfigError(f"{args.proxy}: {err}") from None
    settings.update({field: getattr(args, flag) for flag, field in PROXY_FLAGS.items() if getattr(args, flag) is not None})
    return ProxyConfig.from_dict(settings)


def handle_train(args: argparse.Namespace) -> int:
    space, config = load_space(args.space), _config(args)
    recipe = SupernetRecipe.from_dict({name: getattr(args, name) for name in (
        "epochs", "random_archs", "distill", "temperature", "lr", "kernel_transform", "seed")
        if getattr(args, name) is not None})
    print(f"supernet of space {space.name!r} on {config.dataset} at {config.resolution}px, width x{config.width_mult}, "
          f"batch {config.batch_size}: {recipe.to_dict()}", flush=True)
    train_supernet(space, config, recipe, args.out, resume=args.resume, progress=args.progress,
                   report=lambda epoch, m: print(
                       f"epoch {epoch + 1}/{recipe.epochs}: loss largest {m['largest_loss']:.4f}, smallest "
                       f"{m['smallest_loss']:.4f}, lr {m['lr']:.4g}, {m['seconds']:.1f} s", flush=True))
    print(f"wrote {args.out}")
    return 0


def handle_score(args: argparse.Namespace) -> int:
    archs = [(name, load_arch(name)) for name in args.arch]  # every file checked before the supernet loads
    scorer = SupernetScorer(args.supernet, _config(args), space=load_space(args.space))
    failed = 0
    for name, arch in archs:
        result = scorer.score(arch)
        if result.ok:
            print(f"{name}: accuracy {result.accuracy:.4f}, val_loss {result.val_loss:.4f}, "
                  f"{result.seconds:.2f} s")
        else:
            failed += 1
            print(f"{name}: failed ({result.failure.kind}): {result.failure.message}")
    return 1 if failed else 0
