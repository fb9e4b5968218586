"""Nielsen's chapter-5 training curves beside our seeds: the band and the overlay on a
synthetic case, the figure, and the extract against the numbers it quotes."""

import math

import numpy as np
import pytest

from cnn_jax import published
from cnn_jax.studies.vanishing import nielsen_training as NT
from cnn_jax.studies.vanishing import plots
from cnn_jax.studies.vanishing import study as vanishing


def seeds_times(base, n_seeds):
    """Seed s's curve is (s + 1) · base: [S, E, L]."""
    return np.arange(1, n_seeds + 1)[:, None, None] * np.asarray(base)[None]


def test_seed_band_is_min_percentiles_max_per_epoch_and_layer():
    band = NT.seed_band(seeds_times(np.ones((3, 2)), 11))  # seeds 1 .. 11
    assert {k: v[2][1] for k, v in band.items()} == {
        "min": 1.0,
        "p10": 2.0,
        "median": 6.0,
        "p90": 10.0,
        "max": 11.0,
    }


def test_overlay_places_his_points_in_our_band():
    epochs = np.arange(6)[:, None]
    base = np.hstack([np.exp(-epochs / 2), 40 * np.exp(-epochs / 3)])  # [E+1 = 6, L = 2]
    ours = seeds_times(base, 10)  # median over seeds: 5.5 · base
    his_epochs = [0, 2, 9]  # 9 lies beyond our 5 epochs: not compared
    theirs = np.vstack([5.5 * base[0], [100 * base[2, 0], 5.5 * base[2, 1]], [1.0, 1.0]])
    o = NT.overlay(his_epochs, theirs, ours, {"median": 1e6})
    assert o["epoch"] == [0, 2] and o["seeds"] == 10
    np.testing.assert_allclose(o["ours_median"], 5.5 * base[[0, 2]])
    np.testing.assert_allclose(o["percentile"], [[50, 50], [100, 50]])
    assert o["inside_min_max"] == 0.75 and o["inside_p10_p90"] == 0.75
    # Per layer, the median over his 2 points of log10(his / our median).
    np.testing.assert_allclose(
        o["log10_published_over_median"], [math.log10(100 / 5.5) / 2, 0.0], atol=1e-12
    )
    # The ratio last/first is the same for every seed here: every quantile is base's.
    ratio = base[:, 1] / base[:, 0]  # grows with the epoch
    assert o["ratio_epochs"] == [0, 5] and not o["ratio_same_epochs"]
    for q in NT.BAND:
        assert o["ratio_ours"]["at_init"][q] == pytest.approx(ratio[0])
        assert o["ratio_ours"]["final"][q] == pytest.approx(ratio[-1])
        assert o["ratio_ours"]["median"][q] == pytest.approx(np.median(ratio))
    # A run shorter than his: his summary is of his points inside it, not his own over 499.
    his_ratio = theirs[:2, 1] / theirs[:2, 0]
    assert o["ratio_published"]["max"] == pytest.approx(his_ratio.max())
    assert o["ratio_published"]["final"] == pytest.approx(his_ratio[-1])


def test_overlay_over_his_whole_run_quotes_his_own_ratio():
    ours = seeds_times(np.ones((500, 2)), 3)
    his = {"at_init": 4.7, "min": 1.2, "median": 2.0, "max": 5.1, "final": 2.8}
    o = NT.overlay([0, 10, 499], np.ones((3, 2)), ours, his)
    assert o["ratio_same_epochs"] and o["ratio_epochs"] == [0, 499]
    assert o["ratio_published"] == his


def test_nielsen_overlay_leaves_out_the_output_layer():
    curves = seeds_times(np.ones((3, 3)), 4)  # 2 hidden layers + output
    entry = vanishing.nielsen_overlay(2, curves, ["dense1", "dense2", "dense3"])
    assert entry["layers"] == ["dense1", "dense2"] and entry["epoch"] == [0, 1, 2]
    assert np.shape(entry["published"]) == (3, 2)
    assert vanishing.nielsen_overlay(1, curves, ["dense1", "dense2"]) is None


def test_the_figure_draws_a_band_per_hidden_layer_and_his_points():
    base = np.ones((4, 3))
    band = NT.seed_band(seeds_times(base, 5))
    training = {"784-30-30-10": {"epoch": [0, 1, 2, 3], "delta_norm_band": band}}
    nielsen = {"784-30-30-10": {"epoch": [0, 2], "published": [[1, 2], [3, 4]], "seeds": 5}}
    fig = plots.plot_training_beside_nielsen(training, nielsen)
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # p10–p90, one per hidden layer
    his = [line for line in ax.lines if line.get_marker() == "x"]
    assert [line.get_ydata().tolist() for line in his] == [[1, 3], [2, 4]]


def test_extract_matches_the_numbers_it_quotes():
    """Entry 0 of each curve is his at-init value; his ratio summary (over all 500 entries)
    holds at his first and last entries and bounds every recorded point."""
    ch5 = published.nielsen()["chapter5"]
    for layers, run in ch5["norms_during_training"].items():
        hidden = int(layers.split("_")[0])
        ref = NT.reference(hidden)
        assert ref["epoch"][0] == 0 and ref["epoch"][-1] == run["n_entries"] - 1 == 499
        assert np.shape(ref["delta_norm"]) == (len(ref["epoch"]), hidden)
        np.testing.assert_allclose(
            ref["delta_norm"][0], ch5["json_values_at_init"][layers], rtol=5e-4
        )
        ours = NT.ratio_stats(ref["delta_norm"])
        assert round(ours["at_init"], 1) == ref["ratio"]["at_init"]
        assert round(ours["final"], 1) == ref["ratio"]["final"]
        assert (
            ref["ratio"]["min"] - 0.05 <= ours["min"] <= ours["max"] <= ref["ratio"]["max"] + 0.05
        )
    assert NT.reference(5) is None
