"""The study's figures as PNG files, drawn by :mod:`.plots` from results.json's content."""

from __future__ import annotations

from pathlib import Path

from cnn_jax.results import save_figure
from cnn_jax.studies.pretraining import plots


def write_figures(results: dict, out: str | Path) -> None:
    """The figures of plots.OF_RESULTS that the results hold, in ``out``: filters.png (when an
    unsupervised stack was pretrained), validation_error.png and delta_norms.png; a depth
    sweep: depth_spread.png."""
    for file, draw in plots.OF_RESULTS.items():
        try:
            fig = draw(results)
        except KeyError:  # a figure of the other kind of run, or no stack to show
            continue
        save_figure(fig, Path(out) / file)
