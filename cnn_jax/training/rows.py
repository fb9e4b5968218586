"""A long run's finished rows on disk, one atomic JSON each, so that a run killed at any
moment continues where it stopped and ends with the numbers of an uninterrupted run.

Layout in the run's output folder::

    progress.json    {"partial": true, "config": ..., "done": [row keys], "total": N}
    rows/<key>.json  one finished row (plain JSON), or rows/<key>.npz for arrays

``progress.json`` says ``"partial": true`` until the caller writes ``results.json`` and
calls :meth:`RowStore.finish`, so nobody mistakes the rows for a finished run. A folder
that holds the rows of another configuration is refused (:class:`UsageError`, one line).
JSON floats are written with Python's shortest round-trip repr, so a row read back holds
the very floats that were saved.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from cnn_jax.errors import UsageError
from cnn_jax.results import write_json, write_npz

PROGRESS = "progress.json"


def non_finite(value, path: str = "") -> str | None:
    """The path ("rows/0/test_error") of the first NaN or infinity in a JSON-like value
    (dicts, lists, numbers, numpy arrays), or None when every number is finite."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif isinstance(value, np.ndarray):
        bad = np.argwhere(~np.isfinite(value)) if value.dtype.kind == "f" else []
        return f"{path}{bad[0].tolist()}" if len(bad) else None
    elif isinstance(value, (float, np.floating)):
        return None if math.isfinite(value) else path or "value"
    else:
        return None
    for key, item in items:
        found = non_finite(item, f"{path}/{key}" if path else str(key))
        if found is not None:
            return found
    return None


def slug(key: str) -> str:
    """A row key as a file name: "tanh N" -> "tanh-n"."""
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


def _canonical(config) -> dict:
    """``config`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(config))


class RowStore:
    """The finished rows of one run of ``config`` (a JSON-able dict) in ``out``."""

    def __init__(self, out: str | Path, config: dict, total: int):
        self.out = Path(out)
        self.rows = self.out / "rows"
        self.config = _canonical(config)
        self.total = total
        saved = self._read_progress()
        if saved is not None and saved.get("config") != self.config:
            changed = sorted(
                k
                for k in {*self.config, *saved.get("config", {})}
                if self.config.get(k) != saved.get("config", {}).get(k)
            )
            raise UsageError(
                f"{self.out} holds a run of another configuration (differs in "
                f"{', '.join(changed) or 'its layout'}); use another --out, or delete its "
                "rows/ and progress.json to start over"
            )
        self.done: list[str] = [] if saved is None else list(saved.get("done", []))

    def _read_progress(self) -> dict | None:
        path = self.out / PROGRESS
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(f"{path} is unreadable; delete it or use another --out") from None

    def _write_progress(self, partial: bool) -> None:
        write_json(
            self.out / PROGRESS,
            {"partial": partial, "config": self.config, "done": self.done, "total": self.total},
        )

    def get(self, key: str) -> dict | None:
        """The saved row ``key``, or None when it has not finished."""
        path = self.rows / f"{slug(key)}.json"
        if key not in self.done or not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def get_arrays(self, key: str) -> dict[str, np.ndarray] | None:
        """The saved arrays of row ``key`` (see :meth:`put`), or None."""
        path = self.rows / f"{slug(key)}.npz"
        if self.get(key) is None or not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as saved:
            return {name: saved[name] for name in saved.files}

    def put(self, key: str, row: dict, arrays: dict | None = None) -> None:
        """Save row ``key`` (strict JSON: a non-finite number raises ValueError, nothing is
        written) and its ``arrays`` beside it, then mark it done."""
        if arrays is not None:
            write_npz(self.rows / f"{slug(key)}.npz", arrays)
        write_json(self.rows / f"{slug(key)}.json", row)
        if key not in self.done:
            self.done.append(key)
        self._write_progress(partial=True)

    def finish(self) -> None:
        """Mark the run finished: call after results.json is written."""
        self._write_progress(partial=False)
