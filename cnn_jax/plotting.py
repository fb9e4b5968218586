"""Figures from plain numbers (lists, arrays, JSON). Never imports training code.

Each function takes the numbers and an optional ``ax`` (or axes) and returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def drawn(draw, numbers):
    """``draw(numbers)``, or None when the numbers lack a key it reads (KeyError: another
    setting's figure, or a snapshot that keeps fewer keys); a figure it opened before failing
    is closed, so skipped figures do not pile up in pyplot."""
    before = set(plt.get_fignums())
    try:
        return draw(numbers)
    except KeyError:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)
        return None


def plot_training_curves(history: Mapping[str, Sequence[float]], axes=None, title: str = ""):
    """Accuracy and loss per epoch: ``history`` has ``epoch`` and any of
    ``train_accuracy``, ``test_accuracy``, ``train_loss``, ``test_loss``."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    fig = axes[0].figure
    epochs = history["epoch"]
    for ax, kind in zip(axes, ("accuracy", "loss"), strict=True):
        for split in ("train", "test"):
            key = f"{split}_{kind}"
            if key in history:
                ax.plot(epochs, history[key], marker="o", label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
