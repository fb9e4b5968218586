"""Figures of the initialization study, drawn from its ``results.json`` numbers alone
(numpy and matplotlib; nothing here trains or imports JAX). :data:`OF_RESULTS` names the
figures of initialization.py by file: a run writes them beside its results.json, and
``python -m cnn_jax.report --docs`` redraws those the chapter's snapshot holds the numbers of
(:data:`FIGURES`, docs/results/initialization.json) into docs/initialization/."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cnn_jax.chapter import FULL, of_run  # noqa: E402
from cnn_jax.tables import published  # noqa: E402


def _layers(n: int) -> np.ndarray:
    return np.arange(1, n + 1)


def plot_jacobian_singular_values(init: Mapping[str, Mapping], published: Mapping[str, float]):
    """Mean singular value of ∂z^i/∂z^{i-1} per hidden layer at init: median over seeds with
    the 5–95 % band, and the paper's values as dashed lines."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, entry in init.items():
        s = entry["jacobian_singular_value"]
        x = _layers(len(s["median"]))
        ax.plot(x, s["median"], marker="o", label=label)
        ax.fill_between(x, s["p05"], s["p95"], alpha=0.2)
    for name, value in published.items():
        ax.axhline(value, ls="--", c="grey", lw=1)
        ax.text(1.0, value, f" paper, {name}", va="bottom", fontsize=8, color="grey")
    ax.set_xlabel("hidden layer i (map z^(i-1) → z^i)")
    ax.set_ylabel("mean singular value of Jacobian")
    ax.set_title("Layer Jacobians at init")
    ax.legend(fontsize=8)
    return fig


def plot_gradients_at_init(init: Mapping[str, Mapping]):
    """Figures 6–7 style: Var(∂C/∂s) per hidden layer and Var(∂C/∂W) per layer at init, log
    scale, median over seeds with the 5–95 % band."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, entry in init.items():
        for ax, key in zip(axes, ("backprop_var", "weight_grad_var"), strict=True):
            s = entry[key]
            x = _layers(len(s["median"]))
            ax.plot(x, s["median"], marker="o", label=label)
            ax.fill_between(x, s["p05"], s["p95"], alpha=0.2)
    axes[0].set_title("back-propagated gradients: Var(∂C/∂s)")
    axes[0].set_xlabel("hidden layer")
    axes[1].set_title("weight gradients: Var(∂C/∂W)")
    axes[1].set_xlabel("layer (last = output)")
    for ax in axes:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    return fig


def plot_saturation_curves(curves: Mapping[str, Mapping]):
    """Figures 2–3 style: per hidden layer, the mean activation on the probe images (solid,
    with ±1 std as a band) and the 98th percentile (dashed) against updates; one panel per
    activation."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for ax, (label, entry) in zip(axes[0], curves.items(), strict=True):
        updates = np.asarray(entry["updates"])
        mean, std, p98 = (np.asarray(entry[k]) for k in ("mean", "std", "p98"))
        for layer in range(mean.shape[1]):
            (line,) = ax.plot(updates, mean[:, layer], label=f"layer {layer + 1}")
            ax.fill_between(
                updates,
                mean[:, layer] - std[:, layer],
                mean[:, layer] + std[:, layer],
                color=line.get_color(),
                alpha=0.12,
            )
            ax.plot(updates, p98[:, layer], ls="--", color=line.get_color(), lw=1)
        ax.set_title(f"{label} ({entry['network']}, {entry['init']} init)")
        ax.set_xlabel("updates (mini-batches of 10)")
        ax.set_ylabel("activation: mean ±1 std, 98th pct dashed")
        ax.legend(fontsize=8)
    return fig


def plot_test_errors(table: Mapping[str, Mapping]):
    """Test error per network, ours beside the paper's Table 1 where it has one."""
    labels = list(table)
    x = np.arange(len(labels))
    ours = [table[k]["test_error"] for k in labels]
    paper = [table[k]["published_test_error"] for k in labels]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x - 0.2, ours, 0.4, label="ours")
    ax.bar(
        x[[p is not None for p in paper]] + 0.2,
        [p for p in paper if p is not None],
        0.4,
        label="Glorot & Bengio 2010, Table 1",
    )
    ax.set_xticks(x, labels)
    ax.set_ylabel("MNIST test error (%)")
    first = next(iter(table.values()))
    network = f"{first['network']}, " if "network" in first else ""
    ax.set_title(f"{network}{first['updates']:,} updates, mean over seeds")
    ax.legend(fontsize=8)
    return fig


def plot_budget_curves(results: Mapping):
    """Figure 12 style: test error against updates for each network of the budget run (mean
    over seeds), log-scaled error, the paper's Table 1 value as a dotted line of the same
    colour."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, row in results["networks"].items():
        error = np.asarray(row["test_error_by_epoch"]).mean(0)
        (line,) = ax.plot(row["updates"], error, marker="o", label=f"{label} (lr {row['lr']:g})")
        if row["published_test_error"] is not None:
            ax.axhline(row["published_test_error"], color=line.get_color(), ls=":", lw=1)
    config = results["budget"]
    ax.set_yscale("log")
    ax.set_xlabel("updates (mini-batches of 10)")
    ax.set_ylabel("MNIST test error (%); dotted: Table 1")
    ax.set_title(f"{config['hidden']} × {config['width']:,} units")
    ax.legend(fontsize=8)
    return fig


def plot_plateau_curves(results: Mapping):
    """Per depth: the top hidden layer's mean activation (left) and the probe error (right)
    against updates, one line per seed."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, row in enumerate(results["depths"].values()):
        color = colors[i % len(colors)]
        for s, (mean, error) in enumerate(zip(row["mean"], row["error"], strict=True)):
            label = f"{row['depth']} hidden" if s == 0 else None
            axes[0].plot(row["updates"], np.asarray(mean)[:, -1], color=color, label=label)
            axes[1].plot(row["updates"], error, color=color, label=label)
    axes[0].set_ylabel("top hidden layer: mean sigmoid output")
    axes[1].set_ylabel("test error (%) on the probe images")
    axes[1].axhline(90.0, color="grey", ls="--", lw=1)
    for ax in axes:
        ax.set_xlabel("updates (mini-batches of 10)")
        ax.legend(fontsize=8)
    width = results["plateau"]["width"]
    fig.suptitle(f"sigmoid, standard init, {width} units per layer")
    return fig


# ----------------------------------------------------------------------------- by file name


def _published_jacobian() -> dict[str, float]:
    """Section 4.2.2's mean singular values by init, from the registry of published numbers."""
    paper = published()
    return {"standard": paper["glorot_jacobian_std"], "normalized": paper["glorot_jacobian_norm"]}


# {file name: draw(results)} of one results.json of initialization.py (study.measure)
OF_RESULTS = {
    "jacobian_singular_values.png": lambda r: plot_jacobian_singular_values(
        r["init"], _published_jacobian()
    ),
    "gradients_at_init.png": lambda r: plot_gradients_at_init(r["init"]),
    "saturation_curves.png": lambda r: plot_saturation_curves(r["curves"]),
    "test_errors.png": lambda r: plot_test_errors(r["table"]),
}


def written(results: Mapping) -> dict:
    """{file name: draw(results)} of the figures a run writes beside its ``results``: all of
    :data:`OF_RESULTS`, Table 1's only when the run trained it (not with --no-table)."""
    return {f: d for f, d in OF_RESULTS.items() if f != "test_errors.png" or "table" in results}


# docs/initialization/ figures drawn from the chapter's snapshot (python -m cnn_jax.report
# --docs), as a run draws them (chapter.STUDY_KEYS and BUDGET_KEYS keep what they read).
FIGURES = {
    **{file: of_run(draw, "initialization") for file, draw in OF_RESULTS.items()},
    "budget_full_curves.png": of_run(plot_budget_curves, "initialization_budget" + FULL),
}
