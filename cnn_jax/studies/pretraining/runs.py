"""The pretraining chapter's recorded long runs by name, for its declaration (chapter.py) and
its figures (plots.py): the full-scale settings of its pretraining_converged and
pretraining_depth runs, run once in the background. Their stored entries are kept; a
reproduction at a smaller scale does not replace them."""

from cnn_jax.chapter import FULL

CONVERGED = "pretraining_converged_long"  # 3 × 100, an earlier protocol
DEPTH = "pretraining_depth" + FULL  # the depth sweep at its full scale
CONVERGED_FULL = "pretraining_converged" + FULL  # the --converged mode, 3 × 500
