"""docs/initialization/*.png: the figures a run writes, those the chapter's snapshot holds the
numbers of drawn from docs/results/initialization.json by ``python -m cnn_jax.report --docs``
(their bytes against the committed ones: tests/report/test_docs_drift.py)."""

import matplotlib.pyplot as plt
import pytest

from cnn_jax.report import docs
from cnn_jax.studies.initialization import plots


def test_docs_draw_the_runs_figures_whose_numbers_the_snapshot_keeps(tmp_path):
    """Each figure the docs leave finds a key missing in the snapshot's run (KeyError: the
    committed figure stays), as does every figure of a snapshot without the run."""
    drawn = {p.name for p in docs.draw_figures(docs.ROOT, "initialization", into=tmp_path)}
    committed = {p.name for p in (docs.ROOT / "docs" / "initialization").glob("*.png")}
    assert drawn <= set(plots.FIGURES) == committed and set(plots.OF_RESULTS) <= committed
    assert not plt.get_fignums()  # a figure that could not be drawn was closed
    runs = docs.load_snapshots(docs.ROOT)["initialization"]["runs"]
    for file in set(plots.FIGURES) - drawn:
        with pytest.raises(KeyError):
            plots.FIGURES[file](runs)
    plt.close("all")
    with pytest.raises(KeyError):
        plots.FIGURES["test_errors.png"]({})
    assert "test_errors.png" not in plots.written({"init": {}, "curves": {}})  # --no-table
