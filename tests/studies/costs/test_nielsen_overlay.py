"""Nielsen's chapter-3 curves beside our seeds: the numbers on a synthetic band, the matching
of his runs to our settings, and the figure."""

import dataclasses

import numpy as np
import pytest

from cnn_jax import published
from cnn_jax.studies.costs import plots
from cnn_jax.studies.costs import regularization as R


def test_overlay_best_final_and_peak_epoch_on_a_synthetic_band():
    ours = np.array(
        [
            [0.50, 0.80, 0.70, 0.75, 0.99],  # best 0.80 at epoch 2; the last epoch is cut off
            [0.60, 0.65, 0.90, 0.85, 0.10],  # best 0.90 at epoch 3
            [0.55, 0.70, 0.70, 0.72, 0.50],  # best 0.72 at epoch 4
        ]
    )
    his = {"file": "fig/x.json", "test_accuracy": [0.40, 0.85, 0.80, 0.78]}
    o = R.overlay(ours, his)
    assert o["epochs"] == 4 and o["seeds"] == 3 and o["file"] == "fig/x.json"
    assert o["differs"] == []
    assert o["his_curve"] == his["test_accuracy"]
    np.testing.assert_allclose(o["band"]["min"], [0.50, 0.65, 0.70, 0.72])
    np.testing.assert_allclose(o["band"]["max"], [0.60, 0.80, 0.90, 0.85])
    np.testing.assert_allclose(o["band"]["mean"], ours[:, :4].mean(axis=0))
    best = o["best"]
    assert best["his"] == 0.85 and best["ours"] == [0.80, 0.90, 0.72]
    assert (best["min"], best["max"]) == (0.72, 0.90)
    assert best["mean"] == pytest.approx(np.mean([0.80, 0.90, 0.72]))
    assert (best["seeds_below"], best["seeds_above"]) == (2, 1)
    final = o["final"]
    assert final["his"] == 0.78 and final["ours"] == [0.75, 0.85, 0.72]
    assert (final["seeds_below"], final["seeds_above"]) == (2, 1)
    peak = o["peak_epoch"]
    assert peak["his"] == 2 and peak["ours"] == [2, 3, 4]  # 1-based, as sgd.summary's
    assert (peak["seeds_below"], peak["seeds_above"]) == (0, 2)
    assert isinstance(peak["his"], int) and all(isinstance(e, int) for e in peak["ours"])
    # A tie counts as neither below nor above; a shorter run of his cuts ours.
    tie = R.overlay(ours[:1, :2], {"file": "f", "test_accuracy": [0.5]})
    assert tie["epochs"] == 1 and tie["final"]["seeds_below"] == tie["final"]["seeds_above"] == 0


def test_nielsen_runs_by_lambda_and_what_differs_from_his_setting():
    config = R.RegularizationConfig()
    chapter3 = published.nielsen()["chapter3"]
    for (study, label), key in R.NIELSEN_RUNS.items():
        lam = float(label.split("=")[1])
        his = R.nielsen_run(study, lam, config)
        assert his["file"] == f"fig/{key}.json" and his["differs"] == []
        assert his["test_accuracy"] == [x / 100 for x in chapter3[key]["test_accuracy_pct"]]
        assert max(his["test_accuracy"]) == pytest.approx(chapter3[key]["best"]["value_pct"] / 100)
    assert len(R.nielsen_run("overfit", 0.0, config)["test_accuracy"]) == 400
    assert R.nielsen_run("overfit", 0.2, config) is None  # no run of his with λ 0.2
    other = dataclasses.replace(config, overfit_images=100, hidden=8, lr=0.1, batch_size=20)
    assert R.nielsen_run("overfit", 0.1, other)["differs"] == [
        "images 100 (his 1000)",
        "hidden units 8 (his 30)",
        "η 0.1 (his 0.5)",
        "mini-batch 20 (his 10)",
    ]
    # Fewer epochs are his setting: the comparison is over the epochs both have.
    fewer = dataclasses.replace(config, overfit_epochs=2)
    assert R.nielsen_run("overfit", 0.1, fewer)["differs"] == []


def test_overlay_figure_one_panel_per_config():
    ours = np.linspace(0.5, 0.9, 12).reshape(2, 6)
    his = {"file": "fig/x.json", "test_accuracy": [0.5, 0.6, 0.7, 0.8, 0.85, 0.84]}
    o = R.overlay(ours, his)
    fig = plots.plot_nielsen_overlay({"lambda=0": o, "lambda=5": {**o, "differs": ["images 9"]}})
    assert len(fig.axes) == 2
    assert fig.axes[0].get_title() == "lambda=0"
    assert fig.axes[1].get_title() == "lambda=5\nnot his setting: images 9"
