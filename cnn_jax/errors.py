"""What can go wrong in a run that the user can act on, and the exit code each one gives.

A script's ``main`` wrapped in :func:`cnn_jax.cli.one_line_errors` turns these into one
line on stderr and its exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_USAGE = 2  # bad input, data, output folder or checkpoint: nothing was computed
EXIT_DIVERGED = 3  # training produced a non-finite loss or gradient: lower the learning rate
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as a shell reports it): rerun to continue


class UsageError(Exception):
    """Input the run cannot use (a flag, a folder, a file); the message says which and why."""


class Diverged(FloatingPointError):
    """A non-finite loss or gradient; the message says where. Nothing non-finite is saved."""
