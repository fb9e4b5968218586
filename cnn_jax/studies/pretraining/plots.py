"""Figures for the pretraining study, from the plain numbers in its results.json.

Imports numpy, matplotlib and the chapter's run names: never the training code. Each function
returns the figure. :data:`OF_RESULTS` names the figures by file: a run writes those its results
hold beside its results.json (figures.write_figures), and ``python -m cnn_jax.report --docs``
redraws those of :data:`FIGURES` in docs/pretraining/ from the chapter's snapshot
(docs/results/pretraining.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnn_jax.chapter import of_run  # noqa: E402
from cnn_jax.studies.pretraining.runs import CONVERGED, CONVERGED_FULL, DEPTH  # noqa: E402


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


# ----------------------------------------------------------------------------- by file name

# Each draws one results.json (measure.py's ``measure``, or ``measure_depths`` for a depth
# sweep); a KeyError says the results do not hold what it draws (a depth sweep has no "rows", a
# run of rows no "depths", a run without an unsupervised stack no filters).


def filters(results: Mapping):
    """The first-layer filters of each unsupervised stack (seed 0)."""
    if not results["filters"]:
        raise KeyError("filters: the run pretrained no RBM or autoencoder stack")
    return plot_filters(results["filters"])


def validation_error(results: Mapping):
    """Each row's validation error per fine-tuning epoch, at its chosen rate."""
    curves = {name: r["validation_error_by_epoch"] for name, r in results["rows"].items()}
    return plot_test_error(curves, "validation")


def delta_norms(results: Mapping):
    """‖δˡ‖ per hidden layer at the start of fine-tuning, every seed of every row."""
    deltas = {name: r["delta_norm"] for name, r in results["rows"].items()}
    return plot_delta_norms(deltas, results["layers"], len(results["layers"]) - 1)


def depth_spread(results: Mapping):
    """A depth sweep: each seed's test error at its best validation epoch, per depth and row."""
    errors = {
        depth: {name: r["early_stopping_test_error"] for name, r in d["rows"].items()}
        for depth, d in results["depths"].items()
    }
    return plot_depth_spread(errors)


# {file name: draw(results)}: every figure a run writes.
OF_RESULTS = {
    "filters.png": filters,
    "validation_error.png": validation_error,
    "delta_norms.png": delta_norms,
    "depth_spread.png": depth_spread,
}

# docs/pretraining/ figures drawn from the chapter's snapshot (python -m cnn_jax.report --docs),
# as {docs file: (the file a run writes, the run)}; the snapshot keeps every number they read
# (chapter.RUN_KEYS, CONVERGED_KEYS, DEPTH_KEYS). The first-layer filters (filters.png, an image
# of 64 × 784 weights per stack) are the one figure it does not keep the numbers of: the docs
# keep it as the default run drew it.
OF_SNAPSHOT = {
    "validation_error.png": ("validation_error.png", "pretraining"),
    "delta_norms.png": ("delta_norms.png", "pretraining"),
    "converged_validation_error.png": ("validation_error.png", CONVERGED),
    "converged_full_validation_error.png": ("validation_error.png", CONVERGED_FULL),
    "converged_full_delta_norms.png": ("delta_norms.png", CONVERGED_FULL),
    "depth_spread.png": ("depth_spread.png", DEPTH),
}


FIGURES = {docs: of_run(OF_RESULTS[file], run) for docs, (file, run) in OF_SNAPSHOT.items()}
