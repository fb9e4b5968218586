"""The vanishing-gradient study's summaries: where a published value falls among seeds,
the shrink check, and divergence."""

import numpy as np
import pytest

from cnn_jax.errors import Diverged, UsageError
from cnn_jax.studies.vanishing import study as vanishing
from cnn_jax.training import gradients as G


def test_nielsen_entry_places_the_published_values_among_the_seeds():
    values = np.stack([np.arange(1, 101), 10 * np.arange(1, 101), np.ones(100)], axis=1)  # [S, L]
    summary = {
        "layers": ["dense1", "dense2", "dense3"],
        **G.seed_quantiles(values),
        "kernel_norm_median": [1.0, 1.0, 1.0],
        "predicted_shrink": 10.0,
        "median_shrink": [10.0],
    }
    entry = vanishing.nielsen_entry(summary, (25.5, 900.5), values, values / 2)
    assert entry["layers"] == ["dense1", "dense2"]  # the output layer is left out
    assert entry["published_percentile"] == [25.0, 90.0]
    assert entry["published_percentile_per_example"] == [50.0, 100.0]
    assert entry["published_inside_p01_p99"] == [True, True]
    assert entry["shrink_within_20pct"] == [True]
    assert "published" not in vanishing.nielsen_entry(summary, None, values)


def test_check_finite_names_the_epoch_and_network():
    net = vanishing.nielsen_network(1)
    cost = np.array([[1.0, 0.5, np.nan]])
    history = G.TrainHistory(np.ones((1, 3, 2)), cost, np.zeros((1, 3)), np.zeros((1, 2)))
    with pytest.raises(Diverged, match="784-30-10 .* after 2 epochs at lr=0.1"):
        vanishing.check_finite(history, net, 0.1)
    vanishing.check_finite(history._replace(cost=np.ones((1, 3))), net, 0.1)


def test_training_needs_eval_every_to_divide_epochs():
    with pytest.raises(UsageError, match="must divide"):
        vanishing.Training(epochs=5, eval_every=2)
