"""The verdict rules on hand-made cases: each rule once reproduced, once near, once not."""

import pytest

from cnn_jax.report.compare import MISSING, NEAR, NOT, REPRODUCED, verdict

CASES = [
    # rule, published, measured, tolerance, band, expected
    ("within", 95.0, 95.4, 0.5, None, REPRODUCED),
    ("within", 95.0, 95.8, 0.5, None, NEAR),
    ("within", 95.0, 96.2, 0.5, None, NOT),
    ("seed_band", 0.30, 0.29, 0.05, (0.2, 0.4), REPRODUCED),
    ("seed_band", 0.30, 0.22, 0.05, (0.1, 0.27), NEAR),
    ("seed_band", 0.30, 0.12, 0.05, (0.1, 0.2), NOT),
    ("at_least", 98.02, 99.1, 0.5, None, REPRODUCED),
    ("at_least", 98.02, 97.7, 0.5, None, NEAR),
    ("at_least", 98.02, 97.0, 0.5, None, NOT),
    ("at_most", 1.25, 1.1, 1.0, None, REPRODUCED),
    ("at_most", 1.25, 2.0, 1.0, None, NEAR),
    ("at_most", 1.25, 3.0, 1.0, None, NOT),
    ("exact", 15, 15, 1.0, None, REPRODUCED),
    ("exact", 15, 16, 1.0, None, NEAR),
    ("exact", 15, 17, 1.0, None, NOT),
    ("factor", 100, 60, 2.0, None, REPRODUCED),
    ("factor", 100, 30, 2.0, None, NEAR),
    ("factor", 100, 20, 2.0, None, NOT),
    ("ordering", (1.2, 1.4, 2.4), (2.0, 3.0, 5.0), 0.2, None, REPRODUCED),
    ("ordering", (1.2, 1.4, 2.4), (2.0, 1.9, 5.0), 0.2, None, NEAR),
    ("ordering", (1.2, 1.4, 2.4), (2.0, 1.0, 5.0), 0.2, None, NOT),
]


@pytest.mark.parametrize(("rule", "published", "measured", "tol", "band", "want"), CASES)
def test_rule(rule, published, measured, tol, band, want):
    assert verdict(rule, published, measured, tol, band) == want


def test_every_rule_has_its_three_cases():
    from cnn_jax.published import RULES

    for rule in RULES:
        got = {c[-1] for c in CASES if c[0] == rule}
        assert got == {REPRODUCED, NEAR, NOT}, rule


def test_exact_count_without_tolerance_has_no_near():
    assert verdict("exact", 8, 9) == NOT
    assert verdict("exact", 8, 8.0) == REPRODUCED


def test_ordering_ignores_pairs_the_paper_ties():
    # Table 1 has Softsign and Tanh N both at 1.64: either order of ours is fine.
    assert verdict("ordering", (1.64, 1.64, 2.21), (3.0, 2.0, 4.0), 0.0) == REPRODUCED


def test_a_band_of_one_seed_is_its_value():
    assert verdict("seed_band", 1.0, 1.0, 0.1) == REPRODUCED
    assert verdict("seed_band", 1.0, 1.05, 0.1) == NEAR


def test_unknown_rule_raises():
    with pytest.raises(ValueError, match="unknown rule"):
        verdict("roughly", 1, 1)


def test_missing_rows(tmp_path):
    from cnn_jax.published import load
    from cnn_jax.report.compare import row

    entry = next(e for e in load() if e.run == "cnn/seed")
    assert row(entry, tmp_path).verdict == MISSING  # no run folder at all
    (tmp_path / "cnn" / "seed" / "s0").mkdir(parents=True)
    (tmp_path / "cnn" / "seed" / "s0" / "results.json").write_text('{"epochs": 1}')
    r = row(entry, tmp_path)
    assert r.verdict == MISSING and "test_accuracy" in r.problem


def test_seeds_give_a_band(tmp_path):
    from cnn_jax.published import load
    from cnn_jax.report.compare import row

    entry = next(e for e in load() if e.id == "study_seed_cnn")
    for k, acc in enumerate([0.979, 0.99, 0.985]):
        folder = tmp_path / "cnn" / "seed" / f"s{k}"
        folder.mkdir(parents=True)
        config = '{"batch_size": 128}'
        folder.joinpath("results.json").write_text(
            f'{{"test_accuracy": {acc}, "epochs": 2, "train_images": 60000, "config": {config}}}'
        )
    r = row(entry, tmp_path)
    assert r.seeds == 3 and r.band == pytest.approx((97.9, 99.0))
    assert r.measured == pytest.approx(98.4667, abs=1e-3)
    assert r.budget_ratio is None  # the study's number of updates is unknown


def test_a_miss_is_inconclusive_when_the_seeds_interval_reaches_the_published_side():
    import dataclasses

    from cnn_jax.published import load
    from cnn_jax.report.compare import INCONCLUSIVE, settle

    entry = next(e for e in load() if e.id == "erhan2010_uniform")  # at_most 1.77 %
    entry = dataclasses.replace(entry, updates=None)
    assert verdict("at_most", 1.77, 1.85, 1.0) == NEAR
    v, why = settle(entry, NEAR, [1.70, 2.00], None)  # mean 1.85, 2 seeds: wide
    assert v == INCONCLUSIVE and "t-interval over 2 seeds" in why
    assert settle(entry, NEAR, [1.84, 1.85, 1.86], None) == (NEAR, "")  # tight: a miss


def test_a_miss_at_a_small_budget_is_not_comparable():
    import dataclasses

    from cnn_jax.published import load
    from cnn_jax.report.compare import CLAIM_BUDGET, NOT_COMPARABLE, Row, settle

    entry = next(e for e in load() if e.id == "hinton2006_dbn")
    v, why = settle(entry, NOT, [7.1, 7.2, 7.3], 0.001)
    assert v == NOT_COMPARABLE and "0.001 of the published" in why
    assert settle(entry, NOT, [7.1, 7.2, 7.3], CLAIM_BUDGET)[0] == NOT  # the claim should show
    stated = dataclasses.replace(entry, claim_budget=0.0005)
    assert settle(stated, NOT, [7.1, 7.2, 7.3], 0.001)[0] == NOT
    assert Row(entry, 7.2, None, 3, v, 0.001, why=why).label == "not comparable (budget 0.001)"


def test_each_row_carries_its_recorded_full_scale_run(tmp_path):
    """Beside the reproduction's row, the entry read from the docs' stored ``<run>@full``:
    its seeds' mean and verdict, or nothing when the snapshot holds no such run or not the
    entry's key."""
    from cnn_jax import published
    from cnn_jax.report import compare, md

    entry = next(e for e in published.load() if e.id == "study_deep_cnn")
    seeds = [{"test_accuracy": a, "epochs": 10} for a in (0.990, 0.991, 0.992)]
    snapshots = {"cnn": {"runs": {entry.run + "@full": {**seeds[0], "seeds": seeds}}}}
    (row,) = compare.rows([entry], tmp_path, snapshots)  # nothing reproduced in tmp_path
    assert row.verdict == MISSING
    assert row.full.verdict == REPRODUCED and row.full.seeds == 3
    assert row.full.measured == pytest.approx(99.1)
    assert md.full_text(row) == "99.1 [99, 99.2] (3 seeds): **reproduced**"
    assert compare.rows([entry], tmp_path)[0].full is None
    without_key = {"cnn": {"runs": {entry.run + "@full": {"epochs": 10}}}}
    assert compare.rows([entry], tmp_path, without_key)[0].full is None
