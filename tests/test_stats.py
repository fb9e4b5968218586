"""Intervals against independent computations, and the verdict rules on synthetic rows."""

import math
import subprocess
import sys

import numpy as np
import pytest

from cnn_jax import stats as S


def two_seeds(mean: float, sd: float) -> list[float]:
    """Two values with this mean and sample sd (ddof=1): mean ± sd/√2."""
    return [mean - sd / math.sqrt(2), mean + sd / math.sqrt(2)]


def test_t_interval_of_two_seeds_is_the_closed_form():
    # With 1 degree of freedom Student's t is the Cauchy distribution: t(q) = tan(π(q − ½)).
    values = [1.0, 1.4]
    t = math.tan(math.pi * (0.975 - 0.5))
    half = t * np.std(values, ddof=1) / math.sqrt(2)
    ci = S.mean_interval(values)
    assert ci.estimate == pytest.approx(1.2)
    assert (ci.low, ci.high) == pytest.approx((1.2 - half, 1.2 + half), rel=1e-9)
    assert "t-interval over 2 seeds" in ci.text()


def test_t_interval_with_many_seeds_narrows_toward_the_normal_one():
    rng = np.random.default_rng(0)
    values = rng.normal(1.5, 0.1, 2000)
    ci = S.mean_interval(values)
    half = 1.959964 * values.std(ddof=1) / math.sqrt(values.size)
    assert (ci.high - ci.low) / 2 == pytest.approx(half, rel=2e-3)


def _tail(k: int, n: int, p: float, upper: bool) -> float:
    """P(X ≥ k) (upper) or P(X ≤ k) for X ~ binomial(n, p), by enumerating every outcome."""
    terms = [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]
    return sum(terms[k:]) if upper else sum(terms[: k + 1])


@pytest.mark.parametrize("errors,n", [(0, 5), (1, 5), (3, 7), (7, 7)])
def test_clopper_pearson_bounds_leave_2_5_percent_in_each_tail(errors, n):
    ci = S.error_interval(100.0 * errors / n, n)
    low, high = ci.low / 100, ci.high / 100
    if errors == 0:
        assert low == 0 and high == pytest.approx(1 - 0.025 ** (1 / n))
    else:  # the lower bound: the p at which ≥ errors is exactly as rare as 2.5 %
        assert _tail(errors, n, low, upper=True) == pytest.approx(0.025, abs=1e-9)
    if errors == n:
        assert high == 1 and low == pytest.approx(0.025 ** (1 / n))
    else:
        assert _tail(errors, n, high, upper=False) == pytest.approx(0.025, abs=1e-9)


def test_error_interval_on_the_test_set():
    ci = S.error_interval(1.43, 10_000)
    assert ci.estimate == pytest.approx(1.43)
    assert 1.19 < ci.low < 1.43 < ci.high < 1.70  # about ±0.24 points
    with pytest.raises(ValueError):
        S.error_interval(101.0, 100)


# The pretraining comparison at 3 × 500 with 2 seeds: RBM 1.43 ± 0.10 %, random init
# 1.71 ± 0.02 % (a 0.28-point gap).
RBM, RANDOM = two_seeds(1.43, 0.10), two_seeds(1.71, 0.02)


def test_a_gap_of_two_seeds_against_two_is_inconclusive():
    for interval in (S.paired_difference(RBM, RANDOM), S.welch_difference(RBM, RANDOM)):
        assert interval.estimate == pytest.approx(-0.28)
        verdict = S.gap_verdict(interval, published_sign=-1)
        assert verdict.word == S.INCONCLUSIVE, verdict.text
        assert verdict.text.startswith("inconclusive: the interval of the difference contains 0")
        assert "95 %" in verdict.text


def test_welch_from_a_summary_is_welch_from_the_values():
    a, b = [1.2, 1.5, 1.4], [1.7, 1.71, 1.8, 1.65]
    summary = [(np.mean(v), np.std(v, ddof=1), len(v)) for v in (a, b)]
    assert S.welch_from_summary(*summary) == S.welch_difference(a, b)
    # Welch's degrees of freedom, by hand: (va + vb)² / (va²/(na − 1) + vb²/(nb − 1))
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 4
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    from scipy import stats as scipy_stats

    half = scipy_stats.t.ppf(0.975, dof) * np.sqrt(va + vb)
    ci = S.welch_difference(a, b)
    assert (ci.high - ci.low) / 2 == pytest.approx(half)


def test_a_clear_separation_is_reproduced_or_above():
    rng = np.random.default_rng(1)
    low = 1.4 + 0.05 * rng.standard_normal(8)
    high = 1.7 + 0.05 * rng.standard_normal(8)
    diff = S.paired_difference(low, high)
    assert S.gap_verdict(diff, published_sign=-1).word == S.REPRODUCED
    assert S.gap_verdict(diff, published_sign=+1).word == S.NOT_REPRODUCED
    assert S.gap_verdict(S.paired_difference(high, low)).word == S.ABOVE
    assert S.gap_verdict(diff).word == S.BELOW


def test_value_verdicts():
    ours = S.mean_interval(two_seeds(1.70, 0.01) * 3)  # 6 seeds, tight around 1.70
    assert S.value_verdict(ours, 1.70, 0.1).word == S.REPRODUCED
    assert S.value_verdict(ours, 1.20, 0.1).word == S.ABOVE
    assert S.value_verdict(ours, 2.20, 0.1).word == S.BELOW
    assert S.value_verdict(ours, 1.20, 0.1, budget_ratio=1.0, claim_budget=0.5).word == (
        S.NOT_REPRODUCED
    )
    wide = S.mean_interval(RBM)
    assert S.value_verdict(wide, 1.43, 0.1).word == S.INCONCLUSIVE


def test_a_small_budget_is_not_comparable():
    ours = S.mean_interval([5.2, 6.2, 5.5])
    verdict = S.value_verdict(ours, 1.7, 0.1, budget_ratio=0.001, claim_budget=0.1)
    assert verdict.word == "not comparable (budget 0.001)"
    assert verdict.interval is None and "0.001 of the published" in verdict.text
    gap = S.gap_verdict(S.paired_difference(RBM, RANDOM), -1, budget_ratio=0.01, claim_budget=0.5)
    assert gap.word.startswith(S.NOT_COMPARABLE)


def test_edge_of_grid():
    assert S.edge_of_grid(1.0, [0.3, 1.0])
    assert S.edge_of_grid(0.1, (0.1, 0.3, 1.0, 3.0))
    assert not S.edge_of_grid(0.3, (0.1, 0.3, 1.0, 3.0))
    assert not S.edge_of_grid(1.0, [1.0])


def test_mcnemar_from_packed_bits_matches_enumeration():
    rng = np.random.default_rng(2)
    a = rng.random(1000) < 0.98
    b = a.copy()
    b[:13] = ~b[:13]  # a handful of discordant images
    bits_a, bits_b = S.pack_correct(a), S.pack_correct(b)
    assert bits_a.dtype == np.uint8 and bits_a.size == 125
    np.testing.assert_array_equal(S.unpack_correct(bits_a, 1000), a)
    test = S.mcnemar(S.unpack_correct(bits_a, 1000), S.unpack_correct(bits_b, 1000))
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    assert (test.only_a, test.only_b) == (only_a, only_b)
    n, k = only_a + only_b, min(only_a, only_b)
    exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)
    assert test.p_value == pytest.approx(exact)
    assert S.mcnemar(a, a).p_value == 1.0


def test_importable_without_jax():
    code = "import sys, cnn_jax.stats; sys.exit('jax' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
