"""Figures of the vanishing-gradient chapter, from plain numbers.

Imports only numpy and matplotlib: never the training code. Each function returns the figure.
:data:`OF_RESULTS` names the figures by file: a run writes them beside its results.json
(study.write_figures), and ``python -m cnn_jax.report --docs`` redraws those of
:data:`FIGURES` in docs/vanishing/ from the chapter's snapshot (docs/results/vanishing.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnn_jax.chapter import of_run  # noqa: E402

# ----------------------------------------------------------------------------- gradients


def _layer_axis(n: int) -> np.ndarray:
    return np.arange(1, n + 1)


def plot_delta_norms_by_depth(
    summaries: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    predicted_shrink: float | None = None,
    published: Mapping[str, Sequence[float]] | None = None,
    band: tuple[str, str] = ("p01", "p99"),
    ax=None,
    title: str = "",
):
    """Speed of learning ‖δˡ‖ per hidden layer at init (log scale), one network per colour.

    ``summaries[name]`` holds ``median`` and the two ``band`` quantiles over seeds, each
    [L] from the input side. Per network: the median (solid, with markers), the band
    (shaded), the mean-field line ``median[-1] · predicted_shrink^-(L-l)`` anchored at
    the last layer (dotted), and ``published`` values if given (crosses).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    lo, hi = band
    for i, (name, s) in enumerate(summaries.items()):
        color = f"C{i}"
        median = np.asarray(s["median"], float)
        layers = _layer_axis(len(median))
        ax.plot(layers, median, marker="o", color=color, label=f"{name} (median)")
        ax.fill_between(layers, s[lo], s[hi], color=color, alpha=0.2, lw=0)
        if predicted_shrink is not None:
            theory = median[-1] * predicted_shrink ** (layers - len(median)).astype(float)
            ax.plot(layers, theory, ls=":", color=color)
        if published and name in published:
            ax.plot(
                _layer_axis(len(published[name])),
                published[name],
                ls="none",
                marker="x",
                ms=9,
                mew=2,
                color=color,
            )
    ax.set_yscale("log")
    ax.set_xlabel("hidden layer (1 = input side)")
    ax.set_ylabel("‖δˡ‖ at init")
    ax.set_xticks(_layer_axis(max(len(s["median"]) for s in summaries.values())))
    notes = [f"band: {lo}–{hi} over seeds"]
    if predicted_shrink is not None:
        notes.append(f"dotted: mean field, ÷{predicted_shrink:.2f} per layer")
    if published:
        notes.append("×: Nielsen ch. 5")
    ax.set_title(title or "; ".join(notes), fontsize=9)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax.figure


def plot_speed_of_learning(
    epochs: Sequence[int],
    delta_norm,
    *,
    layer_labels: Sequence[str] | None = None,
    ax=None,
    title: str = "",
):
    """Nielsen's figure: ‖δˡ‖ per layer over epochs (log scale), one curve per layer.

    epochs [E]; delta_norm [E, L], layers from the input side.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    delta_norm = np.asarray(delta_norm, float)
    labels = layer_labels or [f"hidden layer {i}" for i in _layer_axis(delta_norm.shape[1])]
    for i, label in enumerate(labels):
        ax.plot(epochs, delta_norm[:, i], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("speed of learning ‖δˡ‖")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax.figure


def plot_network_comparison(
    at_init: Mapping[str, Mapping[str, Sequence[float]]],
    training: Mapping[str, Mapping[str, Sequence]] | None = None,
    *,
    band: tuple[str, str] = ("p05", "p95"),
    axes=None,
):
    """Networks side by side, one column each (e.g. sigmoid + MSE, sigmoid + CE, ReLU).

    Row 1: ‖δˡ‖ per layer at init: ``at_init[name]`` has ``median`` and the ``band``
    quantiles [L] (and optionally ``layers``, tick labels). With ``training``, row 2:
    ‖δˡ‖ per layer over epochs (``epoch`` [E], ``delta_norm`` [E, L]); row 3: accuracy
    (``epoch``, ``train_accuracy`` [E], ``test_epoch``, ``test_accuracy``). Rows share
    their y axis so the columns compare at a glance. ``axes``: [rows, columns].
    """
    names = list(at_init)
    rows = 1 if training is None else 3
    if axes is None:
        _, axes = plt.subplots(
            rows, len(names), figsize=(4.2 * len(names), 3.4 * rows), sharey="row", squeeze=False
        )
    axes = np.asarray(axes).reshape(rows, len(names))
    lo, hi = band
    for c, name in enumerate(names):
        s = at_init[name]
        ax = axes[0, c]
        median = np.asarray(s["median"], float)
        layers = _layer_axis(len(median))
        ax.plot(layers, median, marker="o", color="C0", label="median")
        ax.fill_between(layers, s[lo], s[hi], color="C0", alpha=0.2, lw=0, label=f"{lo}–{hi}")
        ax.set_xticks(layers, s.get("layers", layers), fontsize=7)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("layer (input side first)")
        ax.grid(alpha=0.3, which="both")
        if c == 0:
            ax.set_ylabel("‖δˡ‖ at init")
            ax.legend(fontsize=8)
        if training is None:
            continue
        t = training[name]
        plot_speed_of_learning(
            t["epoch"], t["delta_norm"], ax=axes[1, c], layer_labels=t.get("layers")
        )
        ax = axes[2, c]
        ax.plot(t["epoch"], t["train_accuracy"], label="train")
        ax.plot(t["test_epoch"], t["test_accuracy"], label="test")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig = axes[0, 0].figure
    fig.tight_layout()
    return fig


def plot_speed_of_learning_by_network(
    training: Mapping[str, Mapping[str, Sequence]], *, hidden_only: bool = True, axes=None
):
    """:func:`plot_speed_of_learning` for several networks side by side, one panel each,
    sharing the y axis. ``training[name]`` has ``epoch`` [E] and ``delta_norm`` [E, L];
    ``hidden_only`` drops the last (output) layer, as Nielsen's figures do."""
    if axes is None:
        _, axes = plt.subplots(
            1, len(training), figsize=(5 * len(training), 4), sharey=True, squeeze=False
        )
    axes = np.asarray(axes).ravel()
    for ax, (name, t) in zip(axes, training.items(), strict=True):
        delta_norm = np.asarray(t["delta_norm"], float)
        if hidden_only:
            delta_norm = delta_norm[:, :-1]
        plot_speed_of_learning(t["epoch"], delta_norm, ax=ax, title=name)
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def plot_training_beside_nielsen(
    training: Mapping[str, Mapping], nielsen: Mapping[str, Mapping], *, axes=None
):
    """Nielsen's recorded ‖δˡ‖ during training on our band over training seeds, one panel
    per network in ``nielsen``.

    ``training[name]``: ``epoch`` [E] and ``delta_norm_band`` with ``min``, ``p10``,
    ``median``, ``p90``, ``max`` (each [E][L], the output layer last, not drawn);
    ``nielsen[name]``: ``epoch`` [P], ``published`` [P][L hidden] and ``seeds``. Per hidden
    layer (one colour each): p10–p90 shaded, min and max thin, our median solid, his points
    as crosses joined by a dashed line.
    """
    names = list(nielsen)
    if axes is None:
        _, axes = plt.subplots(
            1, len(names), figsize=(5 * len(names), 4.2), sharey=True, squeeze=False
        )
    axes = np.asarray(axes).ravel()
    for ax, name in zip(axes, names, strict=True):
        t, n = training[name], nielsen[name]
        band = {k: np.asarray(v, float) for k, v in t["delta_norm_band"].items()}
        theirs = np.asarray(n["published"], float)
        for layer in range(theirs.shape[1]):
            color = f"C{layer}"
            ax.fill_between(
                t["epoch"], band["p10"][:, layer], band["p90"][:, layer], color=color, alpha=0.25
            )
            for edge in ("min", "max"):
                ax.plot(t["epoch"], band[edge][:, layer], color=color, lw=0.5)
            ax.plot(t["epoch"], band["median"][:, layer], color=color, lw=1.2)
            ax.plot(
                n["epoch"],
                theirs[:, layer],
                ls="--",
                marker="x",
                ms=4,
                color=color,
                label=f"hidden layer {layer + 1}",
            )
        ax.set_yscale("log")
        ax.set_xlabel("epoch (full-batch steps)")
        ax.set_title(f"{name}: ours, {n['seeds']} seeds; ×: Nielsen", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("‖δˡ‖ (band: p10–p90, lines: min, median, max)")
    fig = axes[0].figure
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- by file name

# Each draws one results.json (study.py's ``measure``); a KeyError says the results do not
# hold what it draws (the figures of the training: a run without --train).


def delta_norms_by_depth(results: Mapping):
    """Nielsen's networks at init, his published values, the sigmoid's mean-field shrink."""
    delta_norms = results["delta_norms"]
    fig = plot_delta_norms_by_depth(
        delta_norms,
        published={name: e["published"] for name, e in delta_norms.items() if "published" in e},
        predicted_shrink=results["mean_field"]["sigmoid"]["predicted_shrink"],
    )
    fig.tight_layout()  # the docs save the figure as drawn, without a tight bounding box
    return fig


def _layer_ticks(n_layers: int) -> list[str]:
    return [f"h{i + 1}" for i in range(n_layers - 1)] + ["out"]


def comparison(results: Mapping):
    """The comparison's networks at init and, after --train, during training."""
    at_init = {
        name: {**e, "layers": _layer_ticks(len(e["median"]))}
        for name, e in results["comparison"].items()
    }
    training = results["training"]
    during = None  # a run without --train: the row at init alone
    if training:
        during = {name: {**training[name], "layers": e["layers"]} for name, e in at_init.items()}
    return plot_network_comparison(at_init, during)


def _trained(results: Mapping) -> Mapping:
    if not results["training"]:
        raise KeyError("training: the run was without --train")
    return results["training"]


def speed_of_learning(results: Mapping):
    """Nielsen's networks during training, hidden layers only."""
    training = _trained(results)
    return plot_speed_of_learning_by_network(
        {name: training[name] for name in results["delta_norms"]}, hidden_only=True
    )


def nielsen_training(results: Mapping):
    """Nielsen's recorded ‖δˡ‖ on our band over training seeds."""
    if not results.get("nielsen_training"):
        raise KeyError("nielsen_training: the run was without --train, or of no depth he ran")
    return plot_training_beside_nielsen(_trained(results), results["nielsen_training"])


# {file name: draw(results)}: every figure a run writes.
OF_RESULTS = {
    "delta_norms_by_depth.png": delta_norms_by_depth,
    "comparison.png": comparison,
    "speed_of_learning.png": speed_of_learning,
    "nielsen_training.png": nielsen_training,
}


# docs/vanishing/ figures drawn from the chapter's snapshot (python -m cnn_jax.report --docs),
# as a run draws them (chapter.GRADIENT_KEYS keeps what they read); the docs show all but
# speed_of_learning.png.
FIGURES = {
    file: of_run(draw, "vanishing/gradients")
    for file, draw in OF_RESULTS.items()
    if file != "speed_of_learning.png"
}
