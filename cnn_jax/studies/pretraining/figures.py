"""The study's figures as PNG files, drawn by :mod:`.plots` from results.json's content."""

from __future__ import annotations

from pathlib import Path

from cnn_jax.results import save_figure
from cnn_jax.studies.pretraining import plots


def write_figures(results: dict, out: str | Path) -> None:
    """filters.png, validation_error.png and delta_norms.png in ``out``; a depth sweep:
    depth_spread.png."""
    out = Path(out)
    if "depths" in results:
        errors = {
            depth: {name: r["early_stopping_test_error"] for name, r in d["rows"].items()}
            for depth, d in results["depths"].items()
        }
        save_figure(plots.plot_depth_spread(errors), out / "depth_spread.png")
        return
    if results["filters"]:
        save_figure(plots.plot_filters(results["filters"]), out / "filters.png")
    curves = {name: r["validation_error_by_epoch"] for name, r in results["rows"].items()}
    save_figure(plots.plot_test_error(curves, "validation"), out / "validation_error.png")
    n_hidden = len(results["layers"]) - 1
    deltas = {name: r["delta_norm"] for name, r in results["rows"].items()}
    save_figure(
        plots.plot_delta_norms(deltas, results["layers"], n_hidden), out / "delta_norms.png"
    )
