"""docs/pretraining/*.png: the figures a run writes, those the chapter's snapshot holds the numbers
of drawn from docs/results/pretraining.json by ``python -m cnn_jax.report --docs`` (their bytes
against the committed ones: tests/report/test_docs_drift.py)."""

import matplotlib.pyplot as plt
import pytest

from cnn_jax.report import docs
from cnn_jax.studies.pretraining import chapter, plots


def test_docs_draw_the_runs_figures_whose_numbers_the_snapshot_keeps(tmp_path):
    """The docs draw a run's own figures (a converged run's validation_error.png, the depth
    sweep's depth_spread.png) under the names the page shows; one whose numbers its snapshot
    entry lacks (an older snapshot) is a KeyError, and the committed one stays. Every committed
    figure is one of them, but the first-layer filters (an image, kept as the run drew it)."""
    drawn = {p.name for p in docs.draw_figures(docs.ROOT, "pretraining", into=tmp_path)}
    committed = {p.name for p in (docs.ROOT / "docs" / "pretraining").glob("*.png")}
    assert set(plots.FIGURES) == set(plots.OF_SNAPSHOT)
    assert drawn <= committed <= set(plots.FIGURES) | {"filters.png"}
    assert {file for file, _ in plots.OF_SNAPSHOT.values()} <= set(plots.OF_RESULTS)
    assert not plt.get_fignums()  # a figure that could not be drawn was closed
    runs = docs.load_snapshots(docs.ROOT)["pretraining"]["runs"]
    for file in set(plots.FIGURES) - drawn:
        with pytest.raises(KeyError):
            plots.FIGURES[file](runs)
    for file in ("validation_error.png", "delta_norms.png"):
        with pytest.raises(KeyError):  # a depth sweep's results hold no rows at the top
            plots.OF_RESULTS[file](runs[chapter.DEPTH])
    plt.close("all")
    for draw in plots.FIGURES.values():
        with pytest.raises(KeyError):
            draw({})
