"""What a user watches: metrics.csv (one row per epoch) and curves.png (loss and accuracy per
epoch), both rewritten whole and atomically after each change."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Sequence

from mixsearch.search_space.arch_io import write_atomic

COLUMNS = ("epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def write_metrics(path: Path, history: Sequence[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_atomic(path, buffer.getvalue())


def write_curves(path: Path, history: Sequence[dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    epochs = [row["epoch"] + 1 for row in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(9, 3.5))
    loss_axes.plot(epochs, [r["train_loss"] for r in history], label="train (augmented, smoothed)")
    loss_axes.plot(epochs, [r["val_loss"] for r in history], label="validation (EMA)")
    loss_axes.set(xlabel="epoch", ylabel="loss", yscale="log")  # early EMA losses can be 100x the rest
    accuracy_axes.plot(epochs, [r["train_accuracy"] for r in history], label="train (augmented)")
    accuracy_axes.plot(epochs, [r["val_accuracy"] for r in history], label="validation (EMA)")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.legend(fontsize=8)
        axes.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
