"""A grid survives its worst member: a diverged configuration is recorded, the others train."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.errors import Diverged
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.training import divergence, sgd


def _toy(n=20, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 2, 1)).astype(np.float32)
    y = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=n)]
    return jnp.asarray(x), jnp.asarray(y)


NET = MLPSpec((4, 5, 3), "sigmoid", "large")
KEYS = jax.random.split(jax.random.key(0), 2)
SWEEP = dict(batch_size=4, block=1)
ONE_DIVERGES = sgd.hypers([0.5, 1e38], 0.0, ["quadratic", "sigmoid_ce"])


def test_one_diverging_rate_is_recorded_and_the_other_trains(tmp_path):
    train, test = _toy(), _toy(10, seed=1)
    ckpt = tmp_path / "ckpt"
    params, metrics = sgd.run_sweep(
        NET, ONE_DIVERGES, KEYS, KEYS, train, test, epochs=3, checkpoint=ckpt, **SWEEP
    )
    records = sgd.divergences(metrics, ONE_DIVERGES)
    assert [(r["config"], r["lr"], r["epoch"]) for r in records] == [(1, 1e38, 1)]
    assert records[0]["why"] in sgd.CAUSES[1:]
    assert np.isnan(metrics["test_accuracy"][1]).all()
    assert np.isfinite(metrics["test_accuracy"][0]).all()
    assert all(np.isfinite(np.asarray(p)).all() for p in jax.tree.leaves(params))
    # The surviving rate's numbers are those of a sweep without the diverging one.
    alone = sgd.hypers([0.5], 0.0, "quadratic")
    _, solo = sgd.run_sweep(NET, alone, KEYS[:1], KEYS[:1], train, test, epochs=3, **SWEEP)
    np.testing.assert_allclose(metrics["test_cost"][0], solo["test_cost"][0], rtol=1e-6)
    # The checkpoint holds the record; its NaN come back on reading it.
    _, saved, epoch, _ = sgd.load_checkpoint(ckpt)
    assert epoch == 3 and int(saved[sgd.DIVERGED_EPOCH][1]) == 1
    assert np.isnan(saved["train_cost"][1]).all()
    # A rerun asking for more epochs continues with the record in place.
    _, more = sgd.run_sweep(
        NET, ONE_DIVERGES, KEYS, KEYS, train, test, epochs=4, checkpoint=ckpt, **SWEEP
    )
    assert sgd.divergences(more, ONE_DIVERGES) == records


def test_every_configuration_diverging_stops_with_todays_line():
    train, test = _toy(), _toy(10, seed=1)
    huge = sgd.hypers([1e38, 1e38], 0.0, ["sigmoid_ce", "sigmoid_ce"])
    with pytest.raises(Diverged, match=r"configuration 0 \(lr=1e\+38.*epoch 1; lower the"):
        sgd.run_sweep(NET, huge, KEYS, KEYS, train, test, epochs=2, **SWEEP)


def test_the_rule_excludes_and_stops_only_a_row_that_has_nothing_left():
    records = [divergence.diverged(config=2, epoch=3, why="non-finite training cost", lr=0.3)]
    assert divergence.survivors(3, records).tolist() == [True, True, False]
    divergence.require_survivor("row", records, configs=3, hint="lower --lrs")  # no raise
    every = records + [divergence.diverged(config=c, epoch=1, why="x", lr=9.0) for c in (0, 1)]
    with pytest.raises(Diverged, match=r"^row: every configuration diverged, first lr=9: x in"):
        divergence.require_survivor("row", every, configs=3, hint="lower --lrs")
    assert divergence.describe(records[0]) == "lr=0.3: non-finite training cost in epoch 3"


def test_a_row_keeps_its_surviving_configurations():
    metrics = sgd._masked(
        {
            **{k: np.ones((3, 2), np.float32) for k in sgd.EpochMetrics._fields},
            sgd.DIVERGED_EPOCH: np.array([0, 2, 0], np.int32),
            sgd.DIVERGED_CAUSE: np.array([0, 1, 0], np.int32),
        }
    )
    hyper = sgd.hypers([0.1, 0.3, 0.1], 0.0, "softmax_ce")
    live, records = sgd.row_survivors(metrics, hyper, [0, 1], "row", "lower --lrs")
    assert live == [0] and [(r["config"], r["epoch"], r["lr"]) for r in records] == [(1, 2, 0.3)]
    assert np.isnan(metrics["test_cost"][1, 1]) and not np.isnan(metrics["test_cost"][1, 0])
    assert set(sgd.curves(metrics, 0)) == set(sgd.EpochMetrics._fields)
    with pytest.raises(Diverged, match=r"^row: every configuration diverged"):
        sgd.row_survivors(metrics, hyper, [1], "row", "lower --lrs")
