"""The vanishing-gradient figures draw the expected curves from plain numbers (Agg)."""

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from cnn_jax.report import docs
from cnn_jax.studies.vanishing import plots as vanishing_plots


def summary(medians):
    m = np.asarray(medians, float)
    return {
        "median": m.tolist(),
        "p01": (m / 3).tolist(),
        "p05": (m / 2).tolist(),
        "p95": (m * 2).tolist(),
        "p99": (m * 3).tolist(),
    }


def bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def training(n_layers, epochs=6):
    e = np.arange(epochs)
    return {
        "epoch": e.tolist(),
        "delta_norm": np.outer(np.exp(-e / 3), 4.0 ** np.arange(n_layers)),
        "train_accuracy": np.linspace(0.1, 0.5, epochs).tolist(),
        "test_epoch": [0, 5],
        "test_accuracy": [0.1, 0.4],
    }


def test_delta_norms_by_depth():
    summaries = {
        "784-30-30-10": summary([0.06, 0.3]),
        "784-30-30-30-10": summary([0.01, 0.06, 0.3]),
    }
    published = {"784-30-30-10": (0.0657, 0.3092)}
    fig = vanishing_plots.plot_delta_norms_by_depth(
        summaries, predicted_shrink=4.88, published=published
    )
    (ax,) = fig.axes
    # Per network a median and a theory line, plus one published series; a band each.
    assert len(ax.get_lines()) == 2 + 2 + 1
    assert len(bands(ax)) == 2
    assert ax.get_yscale() == "log"
    theory = ax.get_lines()[1].get_ydata()  # anchored at the last layer, ÷4.88 per layer
    np.testing.assert_allclose(theory, [0.3 / 4.88, 0.3])
    fig = vanishing_plots.plot_delta_norms_by_depth(summaries)
    assert len(fig.axes[0].get_lines()) == 2


def test_speed_of_learning_one_curve_per_layer():
    t = training(4)
    fig = vanishing_plots.plot_speed_of_learning(t["epoch"], t["delta_norm"])
    assert len(fig.axes[0].get_lines()) == 4
    assert [text.get_text() for text in fig.axes[0].get_legend().get_texts()][0] == "hidden layer 1"


def test_speed_of_learning_by_network_drops_the_output_layer():
    fig = vanishing_plots.plot_speed_of_learning_by_network({"a": training(3), "b": training(5)})
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 4]
    fig = vanishing_plots.plot_speed_of_learning_by_network({"a": training(3)}, hidden_only=False)
    assert len(fig.axes[0].get_lines()) == 3


@pytest.mark.parametrize("with_training", [False, True])
def test_network_comparison(with_training):
    names = ["sigmoid + MSE", "sigmoid + CE", "ReLU + CE"]
    at_init = {n: summary([1e-3, 1e-2, 1e-1, 1.0, 2.0]) for n in names}
    train = {n: training(5) for n in names} if with_training else None
    fig = vanishing_plots.plot_network_comparison(at_init, train)
    rows = 3 if with_training else 1
    assert len(fig.axes) == rows * 3
    axes = np.asarray(fig.axes).reshape(rows, 3)
    for c, name in enumerate(names):
        assert axes[0, c].get_title() == name
        assert len(axes[0, c].get_lines()) == 1 and len(bands(axes[0, c])) == 1
        if with_training:
            assert len(axes[1, c].get_lines()) == 5  # one per layer
            assert len(axes[2, c].get_lines()) == 2  # train and test accuracy


def test_docs_figures_are_the_runs_figures_drawn_from_the_snapshot(tmp_path):
    """docs/vanishing/*.png are the figures a run writes (but the browser screenshot); those the
    snapshot keeps every number of are drawn from docs/results/vanishing.json (the bytes against
    the committed ones: tests/report/test_docs_drift.py). A snapshot without the run, or a run
    without --train for the training's figures, is a KeyError: the figure is left as it is."""
    drawn = {p.name for p in docs.draw_figures(docs.ROOT, "vanishing", into=tmp_path)}
    assert drawn <= set(vanishing_plots.FIGURES) <= set(vanishing_plots.OF_RESULTS)
    committed = {p.name for p in (docs.ROOT / "docs" / "vanishing").glob("*.png")}
    assert set(vanishing_plots.FIGURES) == committed - {"interactive_explorer.png"}
    with pytest.raises(KeyError):
        vanishing_plots.FIGURES["delta_norms_by_depth.png"]({})
    runs = docs.load_snapshots(docs.ROOT)["vanishing"]["runs"]
    for file in set(vanishing_plots.FIGURES) - drawn:  # the snapshot lacks a key it reads
        with pytest.raises(KeyError):
            vanishing_plots.FIGURES[file](runs)
    run = runs["vanishing/gradients"]
    untrained = {**run, "training": {}, "nielsen_training": {}}
    for file in ("speed_of_learning.png", "nielsen_training.png"):
        with pytest.raises(KeyError):
            vanishing_plots.OF_RESULTS[file](untrained)
    at_init = {"comparison": {"ReLU + CE": summary([0.6, 0.9, 1.3])}, "training": {}}
    assert len(vanishing_plots.OF_RESULTS["comparison.png"](at_init).axes) == 1  # no training row
