"""Figures for the depth-efficiency study, from the plain numbers in its results.json.

Imports only numpy and matplotlib: never the training code. Each function returns the figure.
:data:`OF_RESULTS` names the four by file: a run writes them beside its results.json
(study.write_figures), and ``python -m cnn_jax.report --docs`` redraws docs/depth/*.png from
the chapter's snapshot (:data:`FIGURES`, docs/results/depth.json).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.ticker import NullFormatter

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnn_jax.chapter import of_run  # noqa: E402


def plot_cybenko(widths: Sequence[int], fits: Mapping[str, Mapping[str, Sequence]]):
    """Max and RMS error on the dense grid against width, one colour per target; the line is
    the median over seeds, the dots every seed. fits[target][kind] is [widths, seeds]."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, kind in zip(axes, ("max_error", "rms_error"), strict=True):
        for i, (name, fit) in enumerate(fits.items()):
            errors = np.asarray(fit[kind], float)
            ax.plot(widths, np.median(errors, axis=1), marker="o", color=f"C{i}", label=name)
            for seed in errors.T:
                ax.plot(widths, seed, ls="none", marker=".", color=f"C{i}", alpha=0.4)
        ax.set(xscale="log", yscale="log", xlabel="sigmoid units (one hidden layer)", title=kind)
        ax.set_xticks(widths, [str(w) for w in widths])
        # the log axis labels its minor ticks too (3×10⁰, ...), over the widths' own labels
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("error on [-1, 1]")
    axes[0].legend(fontsize=8)
    fig.suptitle("Cybenko, measured: one hidden layer approximates, at a size")
    fig.tight_layout()
    return fig


def plot_spn_units(rows: Sequence[Mapping]):
    """Units against n (log scale): the deep sum-product network (n - 1) and the product units
    of its depth-2 expansion, with the 2^(√n - 1) line."""
    n = np.asarray([r["n"] for r in rows], float)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(n, [r["deep_units"] for r in rows], marker="o", label="deep: n - 1 units")
    ax.plot(
        n,
        [r["shallow_product_units"] for r in rows],
        marker="s",
        label="depth 2: product units (counted)",
    )
    fine = np.linspace(n.min(), n.max(), 200)
    ax.plot(fine, 2 ** (np.sqrt(fine) - 1), ls=":", color="k", label="2^(√n - 1)")
    ax.set(xscale="log", yscale="log", xlabel="inputs n", ylabel="units")
    ax.set_xticks(n, [str(int(v)) for v in n])
    ax.set_title("Delalleau & Bengio's family F")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_trained_sizes(rows: Sequence[Mapping], threshold: float):
    """Sawtooth: the smallest trained size (units) reaching the error threshold against k, for
    shallow and deep nets, beside the exact constructions (2k deep, 2^k - 1 shallow). Sizes that
    never reached it are drawn as crosses at the largest size tried."""
    saw = [r for r in rows if r["task"] == "sawtooth"]
    k = np.asarray([r["size"] for r in saw])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(k, 2 * k, ls=":", color="C1", label="deep exact: 2k units")
    ax.plot(k, 2.0**k - 1, ls=":", color="C0", label="shallow exact needs ≥ 2^k - 1")
    for i, name in enumerate(("shallow", "deep")):
        found = [(r["size"], r[name]["smallest_units_reaching"]) for r in saw]
        hit = [(s, u) for s, u in found if u is not None]
        miss = [
            (s, max(r[name]["units"])) for (s, u), r in zip(found, saw, strict=True) if u is None
        ]
        if hit:
            ax.plot(*zip(*hit, strict=True), marker="o", color=f"C{i}", label=f"{name}, trained")
        if miss:
            ax.plot(*zip(*miss, strict=True), ls="none", marker="x", ms=9, color=f"C{i}",
                    label=f"{name}: none reached (largest tried)")  # fmt: skip
    ax.set(yscale="log", xlabel="sawtooth k (2^k pieces)", ylabel="hidden units")
    ax.set_xticks(k)
    ax.set_title(f"Trained: smallest size with test RMS / std ≤ {threshold}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_regions(regions: Mapping):
    """Linear regions along a random segment against depth: random deep nets, random shallow
    nets with the same parameter count, the hand-built sawtooth, and the neuron counts."""
    rows = regions["rows"]
    depth = np.asarray([r["depth"] for r in rows])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(depth, [r["deep_regions_mean"] for r in rows], marker="o",
            label=f"random deep, width {regions['width']}")  # fmt: skip
    ax.plot(depth, [r["shallow_regions_mean"] for r in rows], marker="s",
            label="random one hidden layer, same parameters")  # fmt: skip
    ax.plot(
        depth, [r["sawtooth_regions"] for r in rows], marker="^", label="sawtooth, 2 units/layer"
    )
    ax.plot(depth, [r["deep_neurons"] for r in rows], ls=":", color="C0", label="deep neurons")
    ax.plot(depth, [r["shallow_width"] for r in rows], ls=":", color="C1", label="shallow neurons")
    ax.set(
        yscale="log",
        xlabel="depth of the deep net (hidden layers)",
        ylabel="regions on the segment",
    )
    ax.set_xticks(depth)
    ax.set_title("Linear regions along a line, counted exactly")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- by file name

# {file name: draw(results)} of one results.json (study.py's ``measure``). The chapter's
# snapshot keeps every key these read (chapter.KEEP), so a run and the docs draw alike.
OF_RESULTS = {
    "cybenko.png": lambda r: plot_cybenko(r["cybenko"]["widths"], r["cybenko"]["fits"]),
    "spn_units.png": lambda r: plot_spn_units(r["spn"]),
    "trained_sizes.png": lambda r: plot_trained_sizes(
        r["trained"]["rows"], r["trained"]["threshold"]
    ),
    "regions.png": lambda r: plot_regions(r["regions"]),
}


# docs/depth/ figures drawn from the chapter's snapshot (python -m cnn_jax.report --docs)
FIGURES = {file: of_run(draw, "depth") for file, draw in OF_RESULTS.items()}
