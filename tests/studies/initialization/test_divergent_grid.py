"""Table 1 survives its worst rate: a diverging learning rate is listed, never picked."""

import dataclasses

import jax
import numpy as np
import pytest

from cnn_jax.errors import Diverged
from cnn_jax.studies.initialization import study as I
from cnn_jax.training import sgd


@pytest.fixture(scope="module")
def data(mnist):
    train = sgd.to_device(mnist.train_images[:200], mnist.train_labels[:200])
    held = sgd.to_device(mnist.test_images[:100], mnist.test_labels[:100])
    return train, held, held


def _row(data, lrs, seeds=2):
    study = dataclasses.replace(I.Study.tiny(), lrs=lrs, seeds=seeds, epochs=2)
    net = I.network("relu He", 2, 8)
    keys = jax.random.split(jax.random.key(0))
    return I.table_row(net, study, *keys, *data, None, "relu He"), study


def test_a_diverging_rate_is_recorded_and_left_out(data):
    row, _ = _row(data, (0.1, 1e20))
    assert row["chosen_lr"] == 0.1
    assert {(r["lr"], r["seed"]) for r in row["diverged"]} == {(1e20, 0), (1e20, 1)}
    assert all(r["epoch"] == 1 and r["why"] for r in row["diverged"])
    assert row["validation_error_by_epoch"][1][0] == [None, None]  # JSON: no NaN
    assert np.isfinite(row["test_error"])
    table = I.format_table({"init": {}, "table": {"relu He": row}})
    assert "diverged: lr=1e+20, seed=0: non-finite" in table


def test_a_row_whose_every_rate_diverges_stops(data):
    with pytest.raises(Diverged, match=r"configuration 0 \(lr=1e\+20.*lower the learning rate"):
        _row(data, (1e20, 1e21))
