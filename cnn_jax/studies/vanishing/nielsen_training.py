"""Nielsen's chapter-5 training curves beside our band over training seeds.

His ``fig/generate_gradient.py`` trains each of 784-30-30-10, 784-30-30-30-10 and
784-30-30-30-30-10 (one unseeded draw each) for 500 full-batch steps and records, before
step j, the norm per hidden layer of ∂C/∂bˡ averaged over the 1,000 images: entry j is the
network after j updates, which is our epoch j. ``cnn_jax/reference/nielsen.json`` keeps 60
of his 500 entries (epochs 0-10, every 10th, and 499) and his ratio last/first hidden layer
over all 500. Everything here is plain numpy on curves [S seeds, E+1 epochs, L layers].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnn_jax import published

# The band over training seeds kept in results.json, per epoch and layer.
BAND = {"min": 0, "p10": 10, "median": 50, "p90": 90, "max": 100}
# Nielsen's summary of the last/first hidden-layer ratio over his epochs, and ours.
RATIO_STATS = ("at_init", "min", "median", "max", "final")


def seed_band(curves) -> dict[str, list]:
    """curves [S, E, L] -> {"min", "p10", "median", "p90", "max"}: each [E][L] over seeds."""
    curves = np.asarray(curves, np.float64)
    return {name: np.percentile(curves, q, axis=0).tolist() for name, q in BAND.items()}


def reference(hidden: int) -> dict | None:
    """Nielsen's recorded curve for ``hidden`` hidden layers of 30, from the extract:
    {"epoch": [P], "delta_norm": [P][L], "ratio": {stat: value over all 500}}, or None
    when he has no run of that depth."""
    runs = published.nielsen()["chapter5"]["norms_during_training"]
    run = runs.get(f"{hidden}_layers")
    if run is None:
        return None
    return {
        "epoch": run["sampled_epochs_0based"],
        "delta_norm": run["norms_sampled"],
        "ratio": run["ratio_last_hidden_over_first_hidden"],
    }


def ratio_stats(curve) -> dict[str, float]:
    """curve [E, L] -> the ratio ‖δ_last‖/‖δ_first‖ at the first epoch, its min, median
    and max over the epochs, and at the last epoch (as in the extract)."""
    curve = np.asarray(curve, np.float64)
    ratio = curve[:, -1] / curve[:, 0]
    values = (ratio[0], ratio.min(), np.median(ratio), ratio.max(), ratio[-1])
    return {name: float(v) for name, v in zip(RATIO_STATS, values, strict=True)}


def overlay(epochs: Sequence[int], theirs, ours, their_ratio: dict | None = None) -> dict:
    """Nielsen's curve against our seeds at his recorded epochs.

    epochs [P]: his recorded epochs (0 = init); theirs [P, L] his ‖δˡ‖ there; ours
    [S, E+1, L] our seeds' hidden-layer curves. Only his epochs ≤ E are compared. Returns,
    per compared epoch and layer, our band there and the percentage of our seeds below his
    value; the fraction of (epoch, layer) points inside our min–max and p10–p90; the median
    over those points of log10(his / our median) per layer; and the last/first ratio's
    summary (:func:`ratio_stats`) over epochs 0..min(his last, E), each seed's beside his
    (``their_ratio``: his own summary over all his entries, used when our run spans his
    epochs, ``ratio_same_epochs``; otherwise his summary is of his recorded points ≤ E).
    """
    ours = np.asarray(ours, np.float64)
    theirs = np.asarray(theirs, np.float64)
    keep = [i for i, e in enumerate(epochs) if e < ours.shape[1]]
    at = np.asarray([epochs[i] for i in keep], int)
    theirs = theirs[keep]  # [P, L]
    ours_at = ours[:, at]  # [S, P, L]
    band = {name: np.percentile(ours_at, q, axis=0) for name, q in BAND.items()}
    below = 100 * (ours_at < theirs).mean(axis=0)  # [P, L]
    log_ratio = np.log10(theirs / band["median"])
    last = min(int(epochs[-1]), ours.shape[1] - 1)
    full = last == int(epochs[-1])
    per_seed = [ratio_stats(seed[: last + 1]) for seed in ours]
    ours_ratio = {
        stat: {
            name: float(np.percentile([r[stat] for r in per_seed], q)) for name, q in BAND.items()
        }
        for stat in RATIO_STATS
    }
    return {
        "epoch": at.tolist(),
        "published": theirs.tolist(),
        **{f"ours_{name}": b.tolist() for name, b in band.items()},
        "percentile": below.tolist(),
        "inside_min_max": float(((band["min"] <= theirs) & (theirs <= band["max"])).mean()),
        "inside_p10_p90": float(((band["p10"] <= theirs) & (theirs <= band["p90"])).mean()),
        "log10_published_over_median": np.median(log_ratio, axis=0).tolist(),
        "ratio_epochs": [0, last],
        # His own summary spans all his epochs; over a shorter run, his recorded points in it.
        "ratio_published": dict(their_ratio) if full and their_ratio else ratio_stats(theirs),
        "ratio_same_epochs": full,
        "ratio_ours": ours_ratio,
        "seeds": int(ours.shape[0]),
    }
