"""The pretraining chapter's recorded long runs by name, for its declaration (chapter.py) and
its figures (plots.py): the full-scale settings of its pretraining_converged and
pretraining_depth runs, run once in the background. Their stored entries are kept; a
reproduction at a smaller scale does not replace them."""

from cnn_jax.chapter import FULL

CONVERGED, DEPTH = "pretraining_converged_long", "pretraining_depth_long"
CONVERGED_FULL = "pretraining_converged" + FULL  # the --converged mode, 3 × 500
