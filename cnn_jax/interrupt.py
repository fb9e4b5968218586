"""Ctrl-C is one line: where a rerun of the same command continues, and exit 130.

Whatever saves a run's progress tells this module as it saves (:func:`rows_saved` from the
row store, :func:`epoch_saved` from the checkpoints), so the line an interrupt prints names
the row and epoch a rerun starts from. On SIGINT the script ends at once, through
``os._exit``: nothing runs after the signal, so the files on disk are exactly those a
kill -9 at the same moment would leave, which every writer is built to survive (atomic
files, complete-or-absent checkpoints, a lock the kernel drops).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

from cnn_jax.errors import EXIT_INTERRUPTED

_rows: tuple[int, int, str] | None = None  # (rows saved, rows in all, what a row is called)
_epoch: int | None = None  # epochs saved in the checkpoint a rerun resumes from


def rows_saved(done: int, total: int, what: str = "row") -> None:
    """``done`` of a run's ``total`` rows (or runs: ``what``) are saved; the next starts
    from its first epoch."""
    global _rows, _epoch
    _rows, _epoch = (done, total, what), None


def epoch_saved(epochs: int) -> None:
    """A checkpoint after ``epochs`` epochs is saved (or was restored)."""
    global _epoch
    _epoch = epochs


def reset() -> None:
    """Forget what was saved (a new script in the same process)."""
    global _rows, _epoch
    _rows, _epoch = None, None


def line() -> str:
    """ "interrupted; rerun the same command to continue from row 13 of 19, epoch 3"."""
    where = []
    if _rows is not None and _rows[0] < _rows[1]:
        where.append(f"{_rows[2]} {_rows[0] + 1} of {_rows[1]}")
    if _epoch is not None:
        where.append(f"epoch {_epoch + 1}")
    if not where:
        return "interrupted; nothing was saved yet: rerun the same command to start over"
    return f"interrupted; rerun the same command to continue from {', '.join(where)}"


@contextlib.contextmanager
def one_line(prog: str) -> Iterator[None]:
    """While the body runs, SIGINT prints ``prog: <line()>`` and ends the process with
    exit 130 at once. Where no handler can be installed (not the main thread), a
    KeyboardInterrupt is turned into the same line and ``SystemExit(130)``."""
    reset()

    def interrupted(signum, frame) -> None:
        del signum, frame
        try:
            sys.stdout.flush()
        finally:
            os.write(2, f"\n{prog}: {line()}\n".encode())
            os._exit(EXIT_INTERRUPTED)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{prog}: {line()}\n")
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
