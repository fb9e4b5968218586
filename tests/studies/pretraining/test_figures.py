"""docs/pretraining/*.png: the figures a run writes, those the chapter's snapshot holds the numbers
of drawn from docs/results/pretraining.json by ``python -m cnn_jax.report --docs`` (their bytes
against the committed ones: tests/report/test_docs_drift.py)."""

import matplotlib.pyplot as plt
import pytest

from cnn_jax.report import docs
from cnn_jax.studies.pretraining import chapter, plots


def test_docs_draw_the_runs_figures_whose_numbers_the_snapshot_keeps(tmp_path):
    """The docs draw a run's own figures (a converged run's validation_error.png, the depth
    sweep's depth_spread.png) under the names the page shows; the default run's figures find a
    key missing in its snapshot entry (KeyError: the committed ones stay), as does every figure
    of a snapshot without its run."""
    drawn = {p.name for p in docs.draw_figures(docs.ROOT, "pretraining", into=tmp_path)}
    committed = {p.name for p in (docs.ROOT / "docs" / "pretraining").glob("*.png")}
    assert drawn == set(plots.FIGURES) == set(plots.OF_SNAPSHOT) <= committed
    assert {file for file, _ in plots.OF_SNAPSHOT.values()} <= set(plots.OF_RESULTS)
    runs = docs.load_snapshots(docs.ROOT)["pretraining"]["runs"]
    for file in ("filters.png", "validation_error.png", "delta_norms.png", "depth_spread.png"):
        with pytest.raises(KeyError):  # the default run keeps neither curves nor filters
            plots.OF_RESULTS[file](runs["pretraining"])
    for file in ("validation_error.png", "delta_norms.png"):
        with pytest.raises(KeyError):  # a depth sweep's results hold no rows at the top
            plots.OF_RESULTS[file](runs[chapter.DEPTH])
    plt.close("all")
    for draw in plots.FIGURES.values():
        with pytest.raises(KeyError):
            draw({})
