"""Figures of the costs and regularization chapter, from plain numbers.

Each ``plot_*`` takes numbers and returns the figure. :data:`COST_FIGURES`,
:data:`REGULARIZATION_FIGURES` and :data:`KERAS_FIGURES` name the figures each script's
results.json draws, by file: a run writes them beside its results.json, and ``python -m
cnn_jax.report --docs`` redraws :data:`FIGURES` in docs/costs/ from the chapter's snapshot
(docs/results/costs.json), which keeps every number they read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib
import numpy as np

from cnn_jax.chapter import FULL, of_run

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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


def plot_nielsen_overlay(overlays: Mapping[str, Mapping]):
    """Test accuracy per epoch, one panel per configuration: our seeds' mean (line) and
    min–max (band), Nielsen's run (black), and each side's peak (markers).

    ``overlays`` = {label: {"band": {"mean", "min", "max"}, "his_curve", "best",
    "peak_epoch", "seeds", "file"}} as ``regularization.overlay`` writes them."""
    fig, axes = plt.subplots(1, len(overlays), figsize=(5.5 * len(overlays), 4), squeeze=False)
    for ax, (label, o) in zip(axes[0], overlays.items(), strict=True):
        band = {k: 100 * np.asarray(v, np.float64) for k, v in o["band"].items()}
        his = 100 * np.asarray(o["his_curve"], np.float64)
        x = np.arange(1, len(his) + 1)
        ours = f"ours, {o['seeds']} seed{'s' if o['seeds'] > 1 else ''}"
        ax.fill_between(x, band["min"], band["max"], color="C0", alpha=0.3, lw=0)
        ax.plot(x, band["mean"], color="C0", lw=1, label=f"{ours}: mean, min–max")
        ax.plot(x, his, color="k", lw=0.8, label=f"Nielsen ({o['file']})")
        ax.plot(o["peak_epoch"]["his"], 100 * o["best"]["his"], "kv", ms=7, label="his peak")
        ax.plot(o["peak_epoch"]["ours"], 100 * np.asarray(o["best"]["ours"]), "^", color="C0",
                ms=5, ls="none", label="our peaks")  # fmt: skip
        # The last two thirds of the run: the first epochs climb far below the rest.
        tail = slice(len(his) // 3, None)
        low = min(band["min"][tail].min(), his[tail].min())
        high = max(band["max"].max(), his.max())
        ax.set_ylim(low - 0.2 * (high - low), high + 0.1 * (high - low))
        differs = "; ".join(o.get("differs", []))
        ax.set_title(label + (f"\nnot his setting: {differs}" if differs else ""), fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
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


# ----------------------------------------------------------------------------- by file name


def _mnist_curves(network: str) -> Callable:
    """The two costs' curves of one MNIST network of cost_functions.py."""
    return lambda r: plot_config_curves(
        {cost: e["curves"] for cost, e in r["mnist"][network]["costs"].items()}
    )


def _study(name: str, draw: str) -> Callable:
    """One figure of regularization.py's study ``name``: its configurations' curves, their
    overlays on Nielsen's runs, or their saturation (KeyError where the study has none)."""

    def figure(r):
        configs = r["studies"][name]["configs"]
        if draw == "curves":
            return plot_config_curves({label: c["curves"] for label, c in configs.items()})
        picked = {label: c[draw] for label, c in configs.items() if c.get(draw)}
        if not picked:
            raise KeyError(draw)
        if draw == "nielsen":
            return plot_nielsen_overlay(picked)
        return plot_saturation(picked, r["bins"])

    return figure


# {file: draw(results)} of each script's results.json
COST_FIGURES = {
    "neuron_slowdown.png": lambda r: plot_neuron_slowdown(
        r["neuron"]["runs"], r["neuron"]["grad_w_vs_output"]
    ),
    "mnist_784-30-10.png": _mnist_curves("784-30-10"),
    "mnist_784-100-10.png": _mnist_curves("784-100-10"),
}
REGULARIZATION_FIGURES = {
    f"{name}_{draw}.png": _study(name, draw)
    for name in ("overfit", "full", "dropout")
    for draw in ("curves", "nielsen", "mechanism")
}
KERAS_FIGURES = {"fit.png": lambda r: plot_regression_fit(r["fit"])}


# docs/costs/ figures drawn from the chapter's snapshot: the overlays on Nielsen's runs from
# the 5-seed run at full scale, the MNIST network of 100 hidden units from the cost run at
# full scale (the default trains 784-30-10 only), the rest from the default runs.
FIGURES = {
    "neuron_slowdown.png": of_run(COST_FIGURES["neuron_slowdown.png"], "costs/cost_functions"),
    "mnist_784-30-10.png": of_run(COST_FIGURES["mnist_784-30-10.png"], "costs/cost_functions"),
    "mnist_784-100-10.png": of_run(
        COST_FIGURES["mnist_784-100-10.png"], f"costs/cost_functions{FULL}"
    ),
    **{
        file: of_run(draw, f"costs/regularization{FULL if 'nielsen' in file else ''}")
        for file, draw in REGULARIZATION_FIGURES.items()
    },
    "keras_mlp_fit.png": of_run(KERAS_FIGURES["fit.png"], "costs/keras_mlp"),
}
