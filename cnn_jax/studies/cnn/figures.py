"""The CNN chapter's figures, drawn from its stored snapshot (docs/results/cnn.json) so that
a figure shows exactly the numbers its page's tables show (``python -m cnn_jax.report --docs``
redraws docs/cnn/*.png):

- ``learning_curves.png``: test (and, where the run kept it, train) accuracy per epoch of each
  of the study's networks at its 10 epochs: the mean over seeds and the band of min to max;
- ``optimizers.png``: the seed CNN's final accuracy under each 2016 Keras optimizer, every
  seed a dot, the mean with its 95 % t-interval, the study's 98.02 % as a line.
"""

from __future__ import annotations

import numpy as np

from cnn_jax import stats
from cnn_jax.chapter import FULL
from cnn_jax.plotting import plt
from cnn_jax.studies.cnn.runs import NETWORKS, finals, keras_runs
from cnn_jax.tables import published

# The study's networks, each beside the number it is read against.
CURVES = ("cnn/seed", "cnn/study_deep", "cnn/study_deep_dropout")


def _seeds(run: dict) -> list[dict]:
    return run.get("seeds", [run])


def learning_curves(runs: dict):
    """One panel per network of :data:`CURVES` stored at --scale full."""
    shown = [r for r in CURVES if r + FULL in runs]
    if not shown:
        raise KeyError("no network of the study at --scale full in these results")
    fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.6), squeeze=False)
    for ax, run in zip(axes[0], shown, strict=True):
        label, pid = NETWORKS[run]
        seeds = _seeds(runs[run + FULL])
        for key, name, style in (("test_accuracies", "test", "-"),
                                 ("train_accuracies", "train", "--")):  # fmt: skip
            if not all(key in s for s in seeds):
                continue
            curves = 100 * np.array([s[key] for s in seeds])
            epochs = np.arange(1, curves.shape[1] + 1)
            line = ax.plot(epochs, curves.mean(0), style, marker="o", ms=3, label=name)[0]
            ax.fill_between(epochs, curves.min(0), curves.max(0), color=line.get_color(),
                            alpha=0.2, lw=0)  # fmt: skip
        ax.axhline(
            published()[pid], color="k", lw=1, ls=":", label=f"the study, {published()[pid]}"
        )
        ax.set_ylim(97, 100)
        ax.set_xlabel("epoch")
        ax.set_title(f"{label.split(' (')[0]}\n{len(seeds)} seeds: mean, min–max band", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("accuracy (%)")
    fig.tight_layout()
    return fig


def optimizers(runs: dict):
    """Final accuracy per optimizer setting against the study's 98.02 %."""
    found = keras_runs({"runs": runs})
    if not found:
        raise KeyError("no optimizer setting at --scale full in these results")
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(found)), 3.6))
    for i, (_, run) in enumerate(found):
        final = finals(run)
        ax.plot([i] * len(final), final, "o", color="C0", alpha=0.6, ms=4)
        if len(final) > 1:
            ci = stats.mean_interval(final)
            err = [[ci.estimate - ci.low], [ci.high - ci.estimate]]
            ax.errorbar(i + 0.15, ci.estimate, yerr=err, fmt="s", color="C1", capsize=4, ms=5)
    study = published()["study_seed_cnn"]
    ax.axhline(study, color="k", ls=":", lw=1, label=f"the study's seed CNN, {study} %")
    ax.set_xticks(range(len(found)), [label.replace(", ", "\n") for label, _ in found])
    ax.set_xlim(-0.5, len(found) - 0.5)
    ax.set_ylabel("final test accuracy (%)")
    ax.set_title("seed CNN, 10 epochs: seeds (dots), mean and 95 % interval",
                 fontsize=9)  # fmt: skip
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


FIGURES = {"learning_curves.png": learning_curves, "optimizers.png": optimizers}
