"""Figures for the pretraining study, from the plain numbers in its results.json.

Imports only numpy and matplotlib: never the training code. Each function returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_filters(filters: Mapping[str, Sequence[Sequence[float]]]):
    """First-layer weights as 28×28 images, one panel per method; filters[method] is
    [count, 784]. Each filter is scaled to its own largest |w| (grey = 0)."""
    fig, axes = plt.subplots(1, len(filters), figsize=(4.2 * len(filters), 4.6), squeeze=False)
    for ax, (name, rows) in zip(axes[0], filters.items(), strict=True):
        w = np.asarray(rows, float)  # [count, 784]
        w = w / np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12)
        side = int(np.ceil(np.sqrt(len(w))))
        tiles = np.full((side * 29 + 1, side * 29 + 1), np.nan)
        for i, f in enumerate(w):
            r, c = divmod(i, side)
            tiles[1 + 29 * r : 29 * (r + 1), 1 + 29 * c : 29 * (c + 1)] = f.reshape(28, 28)
        ax.imshow(tiles, cmap="gray", vmin=-1, vmax=1)
        ax.set_title(f"{name}: first {len(w)} filters (seed 0)")
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_test_error(curves: Mapping[str, Sequence[Sequence[float]]], split: str = "test"):
    """Error (%) on ``split`` per fine-tuning epoch, one line per starting point: the mean
    over seeds, with a band from the lowest to the highest seed. curves[name] is [seeds,
    epochs] (rows may have run different numbers of epochs)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, errors) in enumerate(curves.items()):
        e = np.asarray(errors, float)
        epochs = np.arange(1, e.shape[1] + 1)
        ax.plot(epochs, e.mean(0), marker="o", ms=3, color=f"C{i}", label=name)
        ax.fill_between(epochs, e.min(0), e.max(0), color=f"C{i}", alpha=0.15)
    ax.set(xlabel="fine-tuning epoch", ylabel=f"{split} error (%)", yscale="log")
    title = f"{split.capitalize()} error while fine-tuning at each row's chosen rate"
    return _finish(fig, ax, f"{title}\n(mean, band: min-max over seeds)")


def plot_depth_spread(errors: Mapping[str, Mapping[str, Sequence[float]]]):
    """Test error (%) of every seed, per depth and row: errors[depth][row] is [seeds].
    One panel per depth; each row a box with its seeds as dots (Erhan et al. 2010, Fig. 4's
    question: does the benefit of pretraining, and its spread, change with depth?)."""
    depths = list(errors)
    fig, axes = plt.subplots(
        1, len(depths), figsize=(4 * len(depths), 4.5), sharey=True, squeeze=False
    )
    for ax, depth in zip(axes[0], depths, strict=True):
        names = list(errors[depth])
        values = [np.asarray(errors[depth][n], float) for n in names]
        ax.boxplot(values, widths=0.5, showfliers=False)
        for i, v in enumerate(values, start=1):
            jitter = np.linspace(-0.12, 0.12, len(v))
            ax.plot(i + jitter, v, ls="none", marker="o", ms=4, color=f"C{i - 1}", alpha=0.7)
        ax.set_xticks(range(1, len(names) + 1), [n.replace(" ", "\n") for n in names], fontsize=8)
        ax.set_title(f"{depth} hidden layer{'s' if depth != '1' else ''}")
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("test error (%) at the best validation epoch")
    fig.suptitle("Test error over seeds, with and without pretraining, per depth")
    fig.tight_layout()
    return fig


def plot_delta_norms(deltas: Mapping[str, Sequence[Sequence[float]]], layers, n_hidden: int):
    """‖δˡ‖ per hidden layer at the start of fine-tuning, one line per starting point (median
    over seeds, dots: each seed). deltas[name] is [seeds, layers]."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = np.arange(1, n_hidden + 1)
    for i, (name, d) in enumerate(deltas.items()):
        d = np.asarray(d, float)[:, :n_hidden]
        ax.plot(x, np.median(d, 0), marker="o", color=f"C{i}", label=name)
        for seed in d:
            ax.plot(x, seed, ls="none", marker=".", color=f"C{i}", alpha=0.4)
    ax.set_xticks(x, [f"{layers[j]} (h{j + 1})" for j in range(n_hidden)])
    ax.set(xlabel="hidden layer (input side first)", ylabel="‖δˡ‖ = ‖∂C/∂bˡ‖", yscale="log")
    return _finish(fig, ax, "Speed of learning per layer at the start of fine-tuning")


def _finish(fig, ax, title: str):
    """The title, a log-scale grid and the legend of a figure with one line per start."""
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
