"""Figures from plain numbers (lists, arrays, JSON). Never imports training code.

Each function takes the numbers and an optional ``ax`` (or axes) and returns the figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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


# ----------------------------------------------------------------------------- costs


def plot_neuron_slowdown(runs: Mapping[str, Mapping], grad_vs_output: Mapping[str, Mapping]):
    """Left: cost per epoch of single-neuron runs ({label: {"cost": [E+1]}}). Right: ∂C/∂w
    against the output a ({cost: {"output": [A], "grad_w": [A]}}), the runs' starts marked
    where ``runs[label]`` has "cost_name" and "output"."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for label, run in runs.items():
        left.plot(np.arange(len(run["cost"])), run["cost"], label=label)
    left.set_xlabel("epoch")
    left.set_ylabel("cost")
    left.set_yscale("log")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    colors = {}
    for name, curve in grad_vs_output.items():
        (line,) = right.plot(curve["output"], curve["grad_w"], label=name)
        colors[name] = line.get_color()
    for label, run in runs.items():
        if "cost_name" in run:
            a0, g0 = run["output"][0], run["grad_w"][0]
            right.plot([a0], [g0], "o", color=colors.get(run["cost_name"], "k"))
            right.annotate(
                label.split(",")[0],
                (a0, g0),
                fontsize=7,
                xytext=(-40, 4),
                textcoords="offset points",
            )
    right.set_xlabel("output a (target y = 0, input x = 1)")
    right.set_ylabel("∂C/∂w")
    right.set_title("quadratic: a·σ'(z) = a²(1 − a);  cross-entropy: a", fontsize=9)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_config_curves(curves: Mapping[str, Mapping], metrics=("accuracy", "cost")):
    """Train (dashed) and test (solid) curves per configuration, one panel per metric:
    curves = {label: {"train_accuracy": [E], "test_accuracy": [E], "train_cost": [E],
    "test_cost": [E]}} (epochs 1..E)."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        for label, c in curves.items():
            line = None
            for split, style in (("test", "-"), ("train", "--")):
                key = f"{split}_{metric}"
                if key not in c:
                    continue
                y = np.asarray(c[key], np.float64)
                x = np.arange(1, len(y) + 1)
                kwargs = {"color": line.get_color()} if line is not None else {}
                (line,) = ax.plot(x, y, style, label=f"{label} ({split})", **kwargs)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        if metric == "cost":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_regression_fit(fit: Mapping[str, Sequence[float]]):
    """Left: training points, target and fitted curve ({"train_x", "train_y", "grid_x",
    "grid_target", "grid_prediction"}). Right: "train_loss" and "test_loss" per epoch."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(fit["train_x"], fit["train_y"], ".", ms=3, alpha=0.5, label="training points")
    left.plot(fit["grid_x"], fit["grid_target"], "k--", label="target")
    left.plot(fit["grid_x"], fit["grid_prediction"], label="network")
    left.set_xlabel("x")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    for key in ("train_loss", "test_loss"):
        y = np.asarray(fit[key], np.float64)
        right.plot(np.arange(1, len(y) + 1), y, label=key.replace("_", " "))
    right.set_xlabel("epoch")
    right.set_ylabel("MSE")
    right.set_yscale("log")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_saturation(mechanism: Mapping[str, Mapping[str, Mapping]], bins: Mapping):
    """Per layer (columns), the distribution of |z| (top) and of σ'(z) (bottom) for each
    configuration: mechanism = {label: {layer: {"abs_z_hist", "slope_hist", "kernel_norm",
    "fraction_saturated"}}}, bins = {"abs_z": edges, "slope": edges}."""
    layers = list(next(iter(mechanism.values())))
    fig, axes = plt.subplots(2, len(layers), figsize=(5 * len(layers), 6.5), squeeze=False)
    for col, layer in enumerate(layers):
        for label, per_layer in mechanism.items():
            m = per_layer[layer]
            text = f"{label}: ‖W‖ {m['kernel_norm']:.1f}, σ'<0.01 {m['fraction_saturated']:.0%}"
            axes[0, col].stairs(m["abs_z_hist"], bins["abs_z"], label=text)
            axes[1, col].stairs(m["slope_hist"], bins["slope"], label=label)
        axes[0, col].set_title(f"{layer}: |z| (last bin: |z| ≥ {bins['abs_z'][-1]:g})", fontsize=9)
        axes[0, col].set_xlabel("|z|")
        axes[1, col].set_xlabel("σ'(z)")
        for row in range(2):
            axes[row, col].set_ylabel("fraction of (image, unit) pairs")
            axes[row, col].grid(alpha=0.3)
            axes[row, col].legend(fontsize=7)
    fig.tight_layout()
    return fig
