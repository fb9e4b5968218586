"""The study's chapters, in the story's order: the one list of them.

Each chapter declares itself once, in its own folder (:class:`cnn_jax.chapter.Chapter`:
question, runs and flags at every scale with the reason for each reduction, the result keys
it keeps, tables, headline, pages); adding a chapter is its folder and one line here.
Estimated minutes are for a 2-core CPU with nothing else running; a rerun on the same
machine replaces them by the wall times it recorded.
"""

from __future__ import annotations

import importlib

from cnn_jax.chapter import SCALES, Chapter

__all__ = ["CHAPTERS", "NAMES", "SCALES", "chapter"]

CHAPTERS: tuple[Chapter, ...] = tuple(
    importlib.import_module(module).CHAPTER
    for module in (
        "cnn_jax.studies.depth.chapter",
        "cnn_jax.studies.vanishing.chapter",
        "cnn_jax.studies.costs.chapter",
        "cnn_jax.studies.initialization.chapter",
        "cnn_jax.studies.pretraining.chapter",
        "cnn_jax.studies.cnn.chapter",
        "cnn_jax.inside.layers_chapter",
        "cnn_jax.inside.probes_chapter",
    )
)
NAMES = tuple(c.name for c in CHAPTERS)


def chapter(name: str) -> Chapter:
    return CHAPTERS[NAMES.index(name)]
