"""What the study's rows let one claim: each row's interval, and each start against the
papers' baseline, with its verdict (:mod:`cnn_jax.stats`). Plain numbers in, plain numbers
out (no JAX): the report can recompute them from results.json.

Every row is fine-tuned from seed i's start with seed i's data order, so two rows' seed i are
a matched pair: their difference is read with a paired t-interval over seeds, and, per seed,
with McNemar's exact test on the test images each got right.
"""

from __future__ import annotations

import base64
import dataclasses

import numpy as np

from cnn_jax import stats

# The papers' no-pretraining baseline (Erhan et al. 2010's ‘Uniform’: U[±1/√fan_in] weights,
# zero biases), which the pretrained rows share everything but their hidden layers with.
BASELINE = "random init (zero biases)"
# The sign of (row − baseline) test error the papers report: every pretraining method lowers
# the error (Bengio et al. 2007 Table 2; Erhan et al. 2010 Table 1).
PUBLISHED_SIGN = {
    "RBM": -1,
    "autoencoder": -1,
    "denoising autoencoder": -1,
    "supervised greedy": -1,
}
ERROR_KEY = "early_stopping_test_error"  # per seed, at each seed's best validation epoch


def interval_json(interval: stats.Interval) -> dict:
    return dataclasses.asdict(interval)


def row_interval(errors) -> dict:
    """The t-interval of a row's per-seed test errors (%), as JSON."""
    return interval_json(stats.mean_interval(errors))


def pack(correct: np.ndarray) -> str:
    """Per-image correctness bool [N] as base64 of its packed bits (1,668 characters for
    the 10,000 test images)."""
    return base64.b64encode(stats.pack_correct(correct).tobytes()).decode("ascii")


def unpack(text: str, n: int) -> np.ndarray:
    return stats.unpack_correct(np.frombuffer(base64.b64decode(text), np.uint8), n)


def compare(rows: dict, baseline: str = BASELINE, test_images: int | None = None) -> dict:
    """{row: {"against", "difference" (interval of row − baseline, points), "verdict",
    "rule", "text", "mcnemar": [per seed]}} for every row but the baseline (empty without
    it). ``test_images``: how many bits each row's "correct_bits" hold."""
    if baseline not in rows:
        return {}
    base = rows[baseline]
    out = {}
    for name, row in rows.items():
        if name == baseline:
            continue
        difference = stats.paired_difference(row[ERROR_KEY], base[ERROR_KEY])
        verdict = stats.gap_verdict(difference, PUBLISHED_SIGN.get(name))
        entry = {
            "against": baseline,
            "difference": interval_json(difference),
            "verdict": verdict.word,
            "rule": verdict.rule,
            "text": verdict.text,
        }
        if test_images and row.get("correct_bits") and base.get("correct_bits"):
            entry["mcnemar"] = [
                dataclasses.asdict(stats.mcnemar(unpack(a, test_images), unpack(b, test_images)))
                for a, b in zip(row["correct_bits"], base["correct_bits"], strict=True)
            ]
        out[name] = entry
    return out


def seeds_of(row: dict) -> int:
    """How many seeds a row's numbers are over (its per-seed best epochs)."""
    return len(row.get("best_epoch") or row.get(ERROR_KEY) or [])


def gap_interval(row: dict, base: dict) -> stats.Interval | None:
    """The interval of row − base test error (points, each seed's best validation epoch):
    paired over matched seeds where both rows keep their per-seed values, else Welch's from
    their mean, sd and seed count (a stored table that kept only those); None with fewer
    than 2 seeds a side."""
    a, b = row.get(ERROR_KEY), base.get(ERROR_KEY)
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b) >= 2:
        return stats.paired_difference(a, b)
    n, m = seeds_of(row), seeds_of(base)
    if min(n, m) < 2:
        return None
    mean, sd = f"{ERROR_KEY}_mean", f"{ERROR_KEY}_sd"
    return stats.welch_from_summary((row[mean], row[sd], n), (base[mean], base[sd], m))


def gap_verdict(name: str, row: dict, base: dict) -> stats.Verdict | None:
    """:func:`gap_interval`'s verdict against the papers' sign for ``name`` (if any)."""
    interval = gap_interval(row, base)
    if interval is None:
        return None
    return stats.gap_verdict(interval, PUBLISHED_SIGN.get(name))


def baseline_of(rows: dict) -> str | None:
    """The row the others are compared with: the papers' baseline, else Nielsen's init."""
    return next((name for name in (BASELINE, "random init") if name in rows), None)


def edge_note(row: dict) -> str:
    """ "" or ", at the edge of {0.3, 1}": when the row's picked η sits on its grid's edge."""
    lrs, lr = row.get("lrs"), row.get("chosen_lr")
    if not lrs or lr is None or not stats.edge_of_grid(lr, lrs):
        return ""
    return f", at the edge of {{{', '.join(f'{x:g}' for x in lrs)}}}"
