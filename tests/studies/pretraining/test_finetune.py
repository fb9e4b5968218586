"""Fine-tuning on a learning-rate grid: the rate is the one best on validation, early stopping
reads each seed's best validation epoch, a diverged rate is left out, patience stops each
configuration on its own curve, the grid widens past an edge pick, a checkpointed run
continues to the numbers of an uninterrupted one, and the readout probes score every hidden
layer."""

import jax
import numpy as np
import pytest

from cnn_jax.errors import Diverged
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.studies.pretraining import finetune as F
from cnn_jax.studies.pretraining import readout
from cnn_jax.training import sgd

NET = MLPSpec((784, 12, 10), "sigmoid", "nielsen", cost="softmax_ce")
RELU = MLPSpec((784, 12, 12, 10), "relu", "he", cost="softmax_ce")


@pytest.fixture(scope="module")
def splits(mnist):
    """200 training, 200 validation (the last 10,000 training images) and 200 test images."""
    train = sgd.to_device(mnist.train_images[:200], mnist.train_labels[:200])
    validation = sgd.to_device(mnist.train_images[50_000:50_200], mnist.train_labels[50_000:50_200])
    test = sgd.to_device(mnist.test_images[:200], mnist.test_labels[:200])
    return train, validation, test


def _start(net, seeds=2):
    keys = jax.random.split(jax.random.key(0), seeds)
    return net.init_params(keys), keys


def test_choose_takes_the_rate_with_the_best_validation_error_and_each_seeds_best_epoch():
    lrs = (0.01, 0.1, 1.0)
    # [C = 3 rates × 2 seeds, E = 4]: rate 0.1's seeds reach 5 and 7 (mean 6); rate 1.0 is
    # better at the last epoch but worse at its best (mean 6.5); rate 0.01 never gets close.
    validation = np.array(
        [
            [50, 40, 30, 20],
            [50, 45, 35, 25],
            [20, 5, 9, 12],
            [20, 10, 7, 8],
            [30, 20, 10, 6],
            [30, 20, 10, 7],
        ],
        float,
    )
    curves = {
        "validation": validation,
        "test_at_best": np.array([21, 26, 6.5, 8, 7, 8], float),
        "test_final": np.array([21, 26, 11, 9, 7, 8], float),
    }
    choice = F.choose(curves, np.zeros(6, bool), lrs)
    assert choice["chosen_lr"] == 0.1 and choice["chosen"] == 1
    assert choice["best_epoch"] == [2, 3]
    assert choice["early_stopping_test_error"] == [6.5, 8.0]
    assert choice["final_test_error"] == [11.0, 9.0]
    assert choice["validation_score"] == pytest.approx([22.5, 6.0, 6.5])
    # A rate with a diverged seed is out, however good its other seed looks.
    diverged = np.array([0, 0, 0, 1, 0, 0], bool)
    choice = F.choose(curves, diverged, lrs)
    assert choice["chosen_lr"] == 1.0 and choice["validation_score"][1] is None


def test_stalled_reads_each_configuration_on_its_own_curve():
    v = np.array([[10, 8, 9, 9], [12, 11, 7, 7.5]], float)  # 2 configurations
    # The first's best (8) was 2 epochs ago, the second's (7) one: patience 2 stops only the
    # first, although the best of the two curves together improved one epoch ago.
    assert F.stalled(v, 2).tolist() == [True, False]
    assert F.stalled(v, 1).tolist() == [True, True]
    assert F.stalled(v, 0).tolist() == [False, False]  # 0: never stop


def test_the_grid_picks_a_learning_rate_that_learns_and_early_stopping_reads_its_best_epoch(
    splits,
):
    params, keys = _start(NET)
    lrs = (1e-6, 2.0)
    _, curves, diverged = F.finetune(NET, lrs, params, keys, splits, epochs=4, batch_size=20)
    shapes = {
        "train": (4, 4),
        "validation": (4, 4),
        "test_final": (4,),
        "test_at_best": (4,),
        "correct_at_best": (4, 200),
        "epochs_run": (4,),
    }
    assert {k: v.shape for k, v in curves.items()} == shapes
    assert not diverged.any() and curves["epochs_run"].tolist() == [4] * 4
    # The per-image correctness is the test error, image by image.
    np.testing.assert_allclose(
        100 * (1 - curves["correct_at_best"].mean(1)), curves["test_at_best"], atol=1e-4
    )
    choice = F.choose(curves, diverged, lrs)
    assert choice["chosen_lr"] == 2.0  # 1e-6 cannot move from chance in 4 epochs
    assert choice["final_test_error"] == curves["test_final"][2:].tolist()
    for s in range(2):
        v = curves["validation"][2 + s]
        epoch = choice["best_epoch"][s]
        assert v[epoch - 1] == v.min() and choice["best_validation_error"][s] == v.min()
        assert v[: epoch - 1].min(initial=np.inf) > v.min()  # the first of equal minima
        # The test error at the best epoch is that of the same run stopped there.
        _, stopped, _ = F.finetune(NET, lrs, params, keys, splits, epochs=epoch, batch_size=20)
        assert choice["early_stopping_test_error"][s] == stopped["test_final"][2 + s]


def test_a_diverging_rate_is_left_out_and_the_others_train_on(splits):
    params, keys = _start(RELU)
    lrs = (0.1, 1e9)
    out, curves, diverged = F.finetune(RELU, lrs, params, keys, splits, epochs=2, batch_size=20)
    assert diverged.tolist() == [0, 0, 1, 1]  # the epoch each diverged in
    assert all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(out))
    assert (curves["validation"][2:, -1] == 100.0).all()
    assert F.choose(curves, diverged, lrs)["chosen_lr"] == 0.1
    with pytest.raises(Diverged, match="every learning rate"):
        F.finetune(RELU, (1e9,), params, keys, splits, epochs=1, batch_size=20)
    _, curves, diverged = F.finetune(
        RELU, (1e9,), params, keys, splits, epochs=3, batch_size=20, must_learn=False
    )
    assert diverged.tolist() == [1, 1] and curves["validation"].shape == (2, 1)


def test_the_grid_widens_past_an_edge_pick_and_a_diverging_rate_bounds_it(splits):
    assert F.next_rate((0.3, 1.0), 1.0) == pytest.approx(10 / 3)
    assert F.next_rate((0.1, 0.3, 1.0), 0.1) == pytest.approx(1 / 30)
    assert F.next_rate((0.1, 0.3, 1.0), 0.3) is None and F.next_rate((1.0,), 1.0) is None
    params, keys = _start(RELU)
    (lrs, out, curves, diverged), choice = F.finetune_widening(
        RELU, (0.03, 0.01), params, keys, splits, widen=2, checkpoint=None, epochs=1,
        batch_size=20,
    )  # fmt: skip
    # Each rate added lies one step (×3) past the edge the pick sat on, until the pick is
    # interior or 2 were added.
    assert list(lrs) == sorted(lrs) and 2 <= len(lrs) <= 4
    assert np.allclose(np.diff(np.log(lrs)), np.log(3))
    assert len(lrs) == 4 or not F.next_rate(lrs, choice["chosen_lr"])
    n = 2 * len(lrs)
    assert curves["validation"].shape == (n, 1) and curves["correct_at_best"].shape == (n, 200)
    assert jax.tree.leaves(out)[0].shape[0] == n and diverged.shape == (n,)
    # A diverged rate stays in the grid (recorded, never chosen) and bounds it: 0.1 is picked
    # on the lower edge, the rate below it is tried, and 0.1 is then interior.
    (lrs, _, _, diverged), choice = F.finetune_widening(
        RELU, (0.1, 1e9), params, keys, splits, widen=2, checkpoint=None, epochs=1,
        batch_size=20,
    )  # fmt: skip
    assert lrs == pytest.approx((1e-11, 0.1, 1e9)) and choice["chosen_lr"] == 0.1
    assert diverged.tolist() == [0, 0, 0, 0, 1, 1]


def test_patience_stops_a_row_and_a_checkpointed_run_continues_to_the_same_numbers(
    splits, tmp_path
):
    params, keys = _start(NET)
    lrs = (0.5,)
    kwargs = dict(batch_size=20)
    _, whole, _ = F.finetune(NET, lrs, params, keys, splits, epochs=3, **kwargs)
    F.finetune(NET, lrs, params, keys, splits, epochs=1, checkpoint=tmp_path / "c", **kwargs)
    _, resumed, _ = F.finetune(
        NET, lrs, params, keys, splits, epochs=3, checkpoint=tmp_path / "c", **kwargs
    )
    for name, value in whole.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-6)
    # A tiny rate never improves on chance by much; with patience 1 it stops as soon as a
    # best epoch is followed by one that is not better, at most the 3 epochs asked for.
    _, curves, _ = F.finetune(NET, (1e-9,), params, keys, splits, epochs=3, patience=1, **kwargs)
    v = curves["validation"].mean(0)
    stop = curves["validation"].shape[1]
    assert stop == 3 or (stop >= 2 and v[-1] >= v[:-1].min())
    # Each configuration stops on its own curve: a stopped one had not improved for
    # `patience` epochs and is frozen (its curve repeats); the others train on.
    _, curves, _ = F.finetune(
        NET, (1e-9, 0.5), params, keys, splits, epochs=4, patience=1, **kwargs
    )
    v, run = curves["validation"], curves["epochs_run"]
    for c in range(4):
        if run[c] < v.shape[1]:
            assert run[c] - 1 - np.argmin(v[c, : run[c]]) >= 1
            assert (v[c, run[c] :] == v[c, run[c] - 1]).all()
    assert run.max() == v.shape[1]


def test_readout_probes_every_hidden_layer(splits, mnist):
    net = MLPSpec((784, 12, 8, 10), "sigmoid", "nielsen", cost="softmax_ce")
    params = jax.tree.map(lambda x: x[0], net.init_params(jax.random.split(jax.random.key(1), 1)))
    train, validation, _ = splits
    fit = (train[0], readout.labels(train[1]))
    score = (validation[0], readout.labels(validation[1]))
    rows = readout.probe_layers(net, params, fit, score, steps=50)
    assert list(rows) == ["sigmoid1", "sigmoid2"]
    for r in rows.values():
        assert 0.1 < r["probe_accuracy"] <= 1 and 0 <= r["nearest_mean_accuracy"] <= 1


def test_an_epoch_gives_the_same_numbers_one_configuration_after_another_as_side_by_side(
    splits,
):
    """The fine-tuning epoch runs its configurations as the engine picks ("map" for the 3 x
    500 network on a CPU); the other engine gives the same parameters and errors up to float
    rounding, and a configuration that is not running keeps its parameters exactly."""
    params, keys = _start(NET)
    lr, params, keys = F.grid((0.5, 1e-3), params, keys)
    hyper = sgd.hypers(lr, 0.0, NET.cost)
    train, validation, _ = splits
    watched = tuple(d[:100] for d in train)
    running = jax.numpy.asarray([True, True, False, True])
    data = (train, watched, validation, 0)
    out = {
        engine: F._epoch(params, hyper, keys, running, *data, net=NET, batch_size=20, engine=engine)
        for engine in sgd.ENGINES
    }
    for a, b in zip(jax.tree.leaves(out["map"]), jax.tree.leaves(out["vmap"]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    pairs = zip(jax.tree.leaves(out["map"][0]), jax.tree.leaves(params), strict=True)
    moved = [np.abs(a - b).max(axis=tuple(range(1, a.ndim))) for a, b in pairs]
    moved = np.max(moved, axis=0)
    assert moved[2] == 0.0 and (moved[[0, 1, 3]] > 0).all()
    assert np.asarray(out["map"][2]).all()
