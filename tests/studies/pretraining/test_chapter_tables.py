"""The converged run's per-seed table: each seed's error, the row's t-interval, and McNemar's
test per matched seed counted by direction."""

import numpy as np

from cnn_jax.studies.pretraining import chapter, verdicts
from cnn_jax.studies.pretraining.runs import CONVERGED_FULL


def _row(errors):
    return {"early_stopping_test_error": errors}


def test_the_per_seed_table_counts_mcnemar_results_by_direction_from_the_test_images():
    n = 1000
    rng = np.random.default_rng(0)
    base_correct = [rng.random(n) > 0.02 for _ in range(3)]
    # Seed 0: the row gets 15 more images right (p < 0.001); seed 1: one fewer (p = 1);
    # seed 2: 40 fewer.
    row_correct = [c.copy() for c in base_correct]
    row_correct[0][np.flatnonzero(~base_correct[0])[:15]] = True
    row_correct[1][np.flatnonzero(base_correct[1])[:1]] = False
    row_correct[2][np.flatnonzero(base_correct[2])[:40]] = False
    rows = {
        verdicts.BASELINE: {
            **_row([100 * (1 - c.mean()) for c in base_correct]),
            "correct_bits": [verdicts.pack(c) for c in base_correct],
        },
        "RBM": {
            **_row([100 * (1 - c.mean()) for c in row_correct]),
            "correct_bits": [verdicts.pack(c) for c in row_correct],
        },
    }
    comparisons = verdicts.compare(rows, test_images=n)
    snapshot = {"runs": {CONVERGED_FULL: {"rows": rows, "comparisons": comparisons}}}
    table = chapter.converged_seeds(snapshot).splitlines()
    rbm = next(line for line in table if line.startswith("| RBM"))
    assert "1 lower, 1 higher, of 3" in rbm
    errors = rows["RBM"]["early_stopping_test_error"]
    assert " / ".join(f"{e:.2f}" for e in errors) in rbm
    assert f"{np.mean(errors):.2f} [" in rbm
    base = next(line for line in table if line.startswith(f"| {verdicts.BASELINE}"))
    assert base.endswith("| – | – |")  # the baseline is not tested against itself


def test_a_snapshot_without_per_seed_values_shows_dashes_not_an_error():
    snapshot = {"runs": {CONVERGED_FULL: {"rows": {"random init": {"test_error_mean": 2.0}}}}}
    assert "| random init | – | – | – | – |" in chapter.converged_seeds(snapshot)
