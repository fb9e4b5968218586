"""Intervals, tests and verdicts: what a comparison of our numbers with a published one, or of
two of our rows, may claim. Imports numpy and scipy only (no JAX), so the report can use it.

Intervals (95 % unless asked otherwise), each an :class:`Interval` that prints itself:

- :func:`mean_interval`: Student's t-interval for a mean over seeds, mean ± t(n−1)·sd/√n.
- :func:`error_interval`: the Clopper–Pearson (exact, conservative) interval for one run's
  test error, as a binomial proportion of n test images.
- :func:`paired_difference`: the t-interval of the mean of per-seed differences a_i − b_i,
  for two of our rows run with matched seeds (same data order, same output layer...).
- :func:`welch_difference`: the Welch t-interval of mean(a) − mean(b), for rows whose seeds
  are not matched (:func:`welch_from_summary` from mean, sd and n alone).
- :func:`mcnemar`: McNemar's exact test on per-image correctness of two networks on the same
  test images (kept as packed bits: :func:`pack_correct`).

Verdicts (:class:`Verdict`: a word, the rule that gave it and the interval, as text):

- :func:`value_verdict`: our interval against a published value ± its tolerance.
- :func:`gap_verdict`: our interval of a difference against zero (and the published sign).

Both answer ``not comparable (budget r)`` first when our budget is below the fraction of the
published budget at which the entry says the claim should already show. :func:`edge_of_grid`
flags a hyperparameter picked at the edge of its grid (the best may lie outside it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _scipy

LEVEL = 0.95

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
ABOVE = "above"
BELOW = "below"
INCONCLUSIVE = "inconclusive"
NOT_COMPARABLE = "not comparable"  # printed with its budget ratio: "not comparable (budget 0.001)"
WORDS = (REPRODUCED, ABOVE, BELOW, INCONCLUSIVE, NOT_COMPARABLE, NOT_REPRODUCED)
# Where a registry entry does not say at what fraction of the published updates its claim
# should already show, a miss below half of them is not held against the paper.
CLAIM_BUDGET = 0.5


@dataclass(frozen=True)
class Interval:
    """``estimate`` with a ``level`` confidence interval [low, high], and how it was made
    (``method``, e.g. "t-interval over 6 seeds")."""

    estimate: float
    low: float
    high: float
    level: float
    method: str

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, digits: int = 2, unit: str = "") -> str:
        """ "1.43 [1.20, 1.66] (95 % t-interval over 6 seeds)"."""
        f = f"{{:.{digits}f}}"
        return (
            f"{f.format(self.estimate)}{unit} [{f.format(self.low)}, {f.format(self.high)}]"
            f" ({self.level * 100:g} % {self.method})"
        )

    def __str__(self) -> str:
        return self.text()


def _values(values: Sequence[float], what: str) -> np.ndarray:
    v = np.asarray(values, np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"{what}: need at least 2 values for an interval, got {v.size}")
    if not np.isfinite(v).all():
        raise ValueError(f"{what}: not every value is finite: {v.tolist()}")
    return v


def _t_interval(v: np.ndarray, level: float, method: str) -> Interval:
    n = v.size
    mean, sd = float(v.mean()), float(v.std(ddof=1))
    half = float(_scipy.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, level, method)


def mean_interval(values: Sequence[float], level: float = LEVEL) -> Interval:
    """Student's t-interval for the mean of ``values`` (one per seed, at least 2)."""
    v = _values(values, "mean_interval")
    return _t_interval(v, level, f"t-interval over {v.size} seeds")


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """The t-interval of mean(a_i − b_i) over matched seeds i (a[i] and b[i] share seed i)."""
    a, b = _values(a, "paired_difference"), _values(b, "paired_difference")
    if a.size != b.size:
        raise ValueError(f"paired_difference: {a.size} against {b.size} values; pair each seed")
    return _t_interval(a - b, level, f"paired t-interval over {a.size} matched seeds")


def welch_difference(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> Interval:
    """Welch's t-interval of mean(a) − mean(b) for unmatched samples (unequal variances)."""
    a, b = _values(a, "welch_difference"), _values(b, "welch_difference")
    summary = (float(a.mean()), float(a.std(ddof=1)), a.size)
    return welch_from_summary(summary, (float(b.mean()), float(b.std(ddof=1)), b.size), level)


def welch_from_summary(a: tuple, b: tuple, level: float = LEVEL) -> Interval:
    """:func:`welch_difference` from each sample's (mean, sd with ddof 1, n ≥ 2): what a
    table that kept only mean ± sd over n seeds still allows."""
    (ma, sa, na), (mb, sb, nb) = a, b
    if min(na, nb) < 2:
        raise ValueError(f"welch_from_summary: need at least 2 seeds a side, got {na} and {nb}")
    va, vb = sa**2 / na, sb**2 / nb
    diff, se = ma - mb, math.sqrt(va + vb)
    method = f"Welch t-interval, {na} against {nb} seeds"
    if se == 0.0:
        return Interval(diff, diff, diff, level, method)
    dof = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    half = float(_scipy.t.ppf(0.5 + level / 2, dof)) * se
    return Interval(diff, diff - half, diff + half, level, method)


def error_interval(error_percent: float, n: int, level: float = LEVEL) -> Interval:
    """Clopper–Pearson interval (%) for one run's test error of ``error_percent`` % on ``n``
    test images: the exact binomial interval, conservative (its coverage is at least
    ``level``). The error count is rounded from the percentage."""
    if n < 1:
        raise ValueError(f"error_interval: n = {n} test images")
    errors = round(error_percent * n / 100.0)
    if not 0 <= errors <= n:
        raise ValueError(f"error_interval: {error_percent} % of {n} images is not a count")
    ci = _scipy.binomtest(errors, n).proportion_ci(confidence_level=level, method="exact")
    return Interval(
        100.0 * errors / n,
        100.0 * ci.low,
        100.0 * ci.high,
        level,
        f"Clopper–Pearson interval on {n:,} test images",
    )


# ----------------------------------------------------------------------------- per-image


def pack_correct(correct) -> np.ndarray:
    """Per-image correctness (bool [N]) as packed bits (uint8 [⌈N/8⌉]), for results.json."""
    return np.packbits(np.asarray(correct, bool).ravel())


def unpack_correct(bits, n: int) -> np.ndarray:
    """The inverse of :func:`pack_correct`: bool [n]."""
    return np.unpackbits(np.asarray(bits, np.uint8), count=n).astype(bool)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test: ``only_a`` images right only for a, ``only_b`` right only for b;
    ``p_value`` two-sided, of a binomial(only_a + only_b, ½) as extreme as observed."""

    only_a: int
    only_b: int
    p_value: float

    def text(self) -> str:
        return (
            f"McNemar exact p = {self.p_value:.3g} ({self.only_a} images right only for the "
            f"first, {self.only_b} only for the second)"
        )


def mcnemar(correct_a, correct_b) -> McNemar:
    """McNemar's exact test on per-image correctness (bool [N] each, the same images)."""
    a, b = np.asarray(correct_a, bool).ravel(), np.asarray(correct_b, bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"mcnemar: {a.size} against {b.size} images")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return McNemar(0, 0, 1.0)
    p = float(_scipy.binomtest(only_a, only_a + only_b, 0.5).pvalue)
    return McNemar(only_a, only_b, p)


# ----------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    """``word`` (one of :data:`WORDS`; "not comparable (budget r)" with its ratio), the
    ``rule`` that gave it, and the ``interval`` it was read from (None when the budget rule
    decided alone)."""

    word: str
    rule: str
    interval: Interval | None = None

    @property
    def text(self) -> str:
        """ "inconclusive: ... ; interval 1.43 [..] (95 % ...)": for the report and pages."""
        where = f"; {self.interval.text()}" if self.interval is not None else ""
        return f"{self.word}: {self.rule}{where}"


def budget_gate(budget_ratio: float | None, claim_budget: float | None) -> Verdict | None:
    """ "not comparable (budget r)" when our budget (a fraction of the published one) is below
    ``claim_budget``, the fraction at which the entry says the claim should already show."""
    if budget_ratio is None or claim_budget is None or budget_ratio >= claim_budget:
        return None
    return Verdict(
        f"{NOT_COMPARABLE} (budget {budget_ratio:.2g})",
        f"our budget is {budget_ratio:.2g} of the published one, below the {claim_budget:.2g} "
        "at which the claim should show",
    )


def _reaches(budget_ratio: float | None, claim_budget: float | None) -> bool:
    return budget_ratio is not None and claim_budget is not None and budget_ratio >= claim_budget


def value_verdict(
    ours: Interval,
    published: float,
    tolerance: float = 0.0,
    *,
    budget_ratio: float | None = None,
    claim_budget: float | None = None,
) -> Verdict:
    """Our interval against ``published`` ± ``tolerance``.

    - budget below ``claim_budget``: "not comparable (budget r)";
    - interval inside [published − tolerance, published + tolerance]: "reproduced";
    - interval wholly above (below) that band: "above" ("below"), or "not reproduced" when
      our budget reaches ``claim_budget`` (the difference is then the paper's claim failing);
    - otherwise, the interval crosses an edge of the band: "inconclusive"."""
    if (gate := budget_gate(budget_ratio, claim_budget)) is not None:
        return gate
    lo, hi = published - tolerance, published + tolerance
    band = f"{published:g} ± {tolerance:g}" if tolerance else f"{published:g}"
    if lo <= ours.low and ours.high <= hi:
        return Verdict(REPRODUCED, f"the interval lies inside the published {band}", ours)
    if ours.low > hi or ours.high < lo:
        side = ABOVE if ours.low > hi else BELOW
        rule = f"the interval lies wholly {side} the published {band}"
        if _reaches(budget_ratio, claim_budget):
            return Verdict(NOT_REPRODUCED, f"{rule}, at a budget where the claim should show", ours)
        return Verdict(side, rule, ours)
    return Verdict(INCONCLUSIVE, f"the interval crosses an edge of the published {band}", ours)


def gap_verdict(
    difference: Interval,
    published_sign: int | None = None,
    *,
    budget_ratio: float | None = None,
    claim_budget: float | None = None,
) -> Verdict:
    """Our interval of a difference a − b against zero.

    - budget below ``claim_budget``: "not comparable (budget r)";
    - the interval contains 0: "inconclusive";
    - without a published claim (``published_sign`` None): "above" (a > b) or "below";
    - with one (the sign of the published a − b): "reproduced" when ours has that sign,
      else "not reproduced"."""
    if (gate := budget_gate(budget_ratio, claim_budget)) is not None:
        return gate
    if difference.contains(0.0):
        return Verdict(INCONCLUSIVE, "the interval of the difference contains 0", difference)
    side = ABOVE if difference.low > 0 else BELOW
    if published_sign is None:
        return Verdict(side, f"the interval of the difference lies wholly {side} 0", difference)
    claimed = ABOVE if published_sign > 0 else BELOW
    if side == claimed:
        return Verdict(REPRODUCED, f"the interval lies wholly {side} 0, as published", difference)
    return Verdict(
        NOT_REPRODUCED,
        f"the interval lies wholly {side} 0; the published difference is {claimed} 0",
        difference,
    )


def edge_of_grid(picked: float, grid: Sequence[float]) -> bool:
    """True when ``picked`` is the smallest or largest of a grid of at least 2 values: the
    best value may lie outside the grid. (A one-value grid picks nothing: False.)"""
    values = sorted(float(g) for g in grid)
    if len(values) < 2:
        return False
    return math.isclose(float(picked), values[0]) or math.isclose(float(picked), values[-1])
