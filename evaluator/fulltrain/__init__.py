"""Final training of one architecture at its own width (stage 2 of a search): a standard mobile-CNN
recipe, checkpoints that resume bit-identically on the CPU, and the trained model to take away.

    from mixsearch.evaluator.fulltrain import TrainRecipe, train_arch, load_trained
    result = train_arch(arch, TrainRecipe(dataset="cifar10-mini"), "train/mine")
    model = load_trained("train/mine/model.pt")
"""
from .errors import CheckpointError, RecipeError, TrainingStopped
from .loop import train_arch
from .model_file import load_trained, preprocess
from .recipe import TrainRecipe

__all__ = ["CheckpointError", "RecipeError", "TrainRecipe", "TrainingStopped", "load_trained", "preprocess", "train_arch"]
