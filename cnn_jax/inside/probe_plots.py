"""Figures of the probe study, from saved numbers only (numpy and matplotlib; no JAX, no
training code): probe accuracy against depth, CKA heatmaps, a PCA scatter grid. A run draws
them into its folder (probe_page.write_study; by file name :data:`OF_RESULTS`, those its
results.json alone draws), and ``python -m cnn_jax.report --docs`` redraws the docs/probes/
figures the chapter's snapshot holds the numbers of (:data:`FIGURES`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cnn_jax.chapter import FULL, of_run  # noqa: E402


def _tick_names(runs: Sequence[Mapping]) -> list[str]:
    """Layer names along the x axis: shared names once, differing ones joined by "/"."""
    longest = max(len(run["layers"]) for run in runs)
    names = []
    for i in range(longest):
        here = dict.fromkeys(list(run["layers"])[i] for run in runs if i < len(run["layers"]))
        names.append("/".join(here))
    return names


def plot_probe_accuracy(runs: Sequence[Mapping], *, title: str = "") -> plt.Figure:
    """Two panels against depth (input → output), one colour per run: probe test accuracy
    (solid) and nearest-class-mean accuracy (dashed); the class-separation ratio (log).

    ``runs``: [{"label": str, "layers": {name: {probe_test_accuracy, nearest_mean_accuracy,
    separation, ...}}}], the layers in run order.
    """
    fig, (ax_acc, ax_sep) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    for i, run in enumerate(runs):
        rows = list(run["layers"].values())
        x = np.arange(len(rows))
        colour = f"C{i}"
        ax_acc.plot(x, [r["probe_test_accuracy"] for r in rows], "o-", color=colour)
        ax_acc.plot(x, [r["nearest_mean_accuracy"] for r in rows], "s--", color=colour, alpha=0.6)
        ax_sep.plot(x, [r["separation"] for r in rows], "o-", color=colour, label=run["label"])
    ax_acc.axhline(0.1, color="grey", lw=0.8, ls=":")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.set_ylim(0, 1.02)
    # One entry per network (its colour) and one per measure (the line style), beside the
    # axes, so that no legend hides a line however many networks there are.
    styles = [plt.Line2D([], [], color="grey", marker="o", ls="-", label="linear probe"),
              plt.Line2D([], [], color="grey", marker="s", ls="--", alpha=0.6,
                         label="nearest class mean")]  # fmt: skip
    ax_acc.legend(handles=styles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax_acc.grid(alpha=0.3)
    ax_sep.set_yscale("log")
    ax_sep.set_ylabel("between / within scatter\n(top principal components)")
    ax_sep.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax_sep.grid(alpha=0.3)
    names = _tick_names(runs)
    ax_sep.set_xticks(np.arange(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax_sep.set_xlabel("layer (input → output)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_by_epoch(by_epoch: Sequence[Mapping], *, title: str = "") -> plt.Figure:
    """Layer × epoch: one column per run folder, linear-probe test accuracy (top) and
    nearest-class-mean accuracy (bottom) against the epoch, one line per layer coloured
    from the input (dark) to the output (light); the epochs evenly spaced.

    ``by_epoch``: :func:`cnn_jax.inside.probe_networks.by_epoch`'s list.
    """
    columns = len(by_epoch)
    fig, axes = plt.subplots(
        2, columns, figsize=(4.2 * columns + 0.6, 6.5), sharey=True, squeeze=False
    )
    for j, run in enumerate(by_epoch):
        x = np.arange(len(run["epochs"]))
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(run["layers"])))
        for i, key in enumerate(("probe_test_accuracy", "nearest_mean_accuracy")):
            ax = axes[i, j]
            for name, colour in zip(run["layers"], colours, strict=True):
                ax.plot(x, run[key][name], "o-", color=colour, ms=3, label=name)
            ax.axhline(0.1, color="grey", lw=0.8, ls=":")
            ax.set_xticks(x, [str(e) for e in run["epochs"]])
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(run["label"])
                # Each network names its own layers (sigmoid1 or relu1, ...).
                ax.legend(fontsize=6, loc="lower right", ncol=2)
            else:
                ax.set_xlabel("epoch (0: initialization)")
            if j == 0:
                ax.set_ylabel("linear probe" if i == 0 else "nearest class mean")
    axes[0, 0].set_ylim(0, 1.02)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_cka(
    matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], *, title: str = ""
) -> plt.Figure:
    """Heatmap of linear CKA ``matrix`` [len(rows), len(columns)] in [0, 1], each cell
    labelled with its value."""
    matrix = np.asarray(matrix)
    size = 0.5 + 0.45 * max(len(rows), len(columns))
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="magma", origin="upper")
    ax.set_xticks(np.arange(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(rows)), rows, fontsize=8)
    for (i, j), value in np.ndenumerate(matrix):
        colour = "black" if value > 0.6 else "white"
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, label="linear CKA", shrink=0.8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_pca_grid(
    scores: Mapping[str, np.ndarray], labels: np.ndarray, *, title: str = ""
) -> plt.Figure:
    """One scatter per layer of the first two principal-component scores ``scores``
    ({layer: [N, 2]}), points coloured by digit ``labels`` [N]."""
    n = len(scores)
    cols = min(5, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows + 0.6), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (name, xy) in zip(axes.flat, scores.items(), strict=False):
        ax.scatter(xy[:, 0], xy[:, 1], c=cmap(np.asarray(labels) % 10), s=3, alpha=0.7, lw=0)
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[n:]:
        ax.axis("off")
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=cmap(d), label=str(d)) for d in range(10)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=10, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


# ----------------------------------------------------------------------------- by file name

# {file name: draw(results)} of the figures of a probe_layers.py results.json that its numbers
# alone draw (probe_page.write_study); probe_by_epoch.png only of a run probed at several epochs.
# The CKA and PCA figures, one per network or pair, read "cka", "cross_cka" and pca.npz.
OF_RESULTS = {
    "probe_accuracy.png": lambda r: plot_probe_accuracy(
        r["runs"], title="What a linear read-out finds"
    ),
    "probe_by_epoch.png": lambda r: plot_by_epoch(
        r["by_epoch"], title="What a linear read-out finds, by epoch"
    ),
}


def trained_and_init(results: Mapping) -> dict:
    """``results`` of a run probed at several epochs with "runs" cut to each network's last
    epoch and its first (0: its initialization), in that order: what a run of
    ``--checkpoint A --at-init-of A`` draws. A missing run is a KeyError."""
    runs = {run["label"]: run for run in results["runs"]}
    # The label networks_to_probe gives a run folder probed at an epoch.
    picked = [
        runs[f"{net['label']} (epoch {epoch})"]
        for net in results["by_epoch"]
        for epoch in (net["epochs"][-1], net["epochs"][0])
    ]
    return {**results, "runs": picked}


# docs/probes/ figures drawn from the chapter's snapshot (python -m cnn_jax.report --docs,
# docs/results/probes.json): the seed CNN's probe run, and the 30-epoch MLPs probed at epochs 0
# to 30. The snapshot keeps no CKA matrix or PCA score (probes_chapter.KEEP), and no run of the
# deep CNN: those figures stay as committed.
FIGURES = {
    "seed_probe_accuracy.png": of_run(OF_RESULTS["probe_accuracy.png"], "probes"),
    "mlp_probe_accuracy.png": lambda runs: OF_RESULTS["probe_accuracy.png"](
        trained_and_init(runs[f"probes_mlp{FULL}"])
    ),
    "mlp_probe_by_epoch.png": of_run(OF_RESULTS["probe_by_epoch.png"], f"probes_mlp{FULL}"),
}
