"""The study's figures as PNG files, drawn by :mod:`.plots` from results.json's content."""

from __future__ import annotations

from pathlib import Path

from cnn_jax.results import save_figures
from cnn_jax.studies.pretraining import plots


def write_figures(results: dict, out: str | Path) -> None:
    """The figures of plots.OF_RESULTS that the results hold, in ``out``: filters.png (when an
    unsupervised stack was pretrained), validation_error.png and delta_norms.png; a depth
    sweep: depth_spread.png."""
    save_figures(plots.OF_RESULTS, results, out)
