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
import time
from pathlib import Path

import numpy as np

from cnn_jax import interrupt
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


def _kind(key: str, kinds: dict) -> str:
    """A row's kind: its key's first word when the store counts kinds, else ""."""
    return key.split()[0] if kinds else ""


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _canonical(config) -> dict:
    """``config`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(config))


class RowStore:
    """The finished rows of one run of ``config`` (a JSON-able dict) in ``out``.

    ``kinds`` (optional) counts the rows of each kind, a kind being a key's first word
    ("table relu He" is a "table" row): rows of one kind cost alike, so :meth:`pace`
    estimates what is left kind by kind."""

    def __init__(self, out: str | Path, config: dict, total: int, kinds: dict | None = None):
        self.out = Path(out)
        self.rows = self.out / "rows"
        self.config = _canonical(config)
        self.total = total
        self.kinds = dict(kinds or {})
        self._seconds: dict[str, list[float]] = {}  # kind -> the rows computed in this process
        self._last = time.perf_counter()
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
        interrupt.rows_saved(len(self.done), total)

    def continuing(self) -> str | None:
        """ "continuing: 12 of 19 rows saved" when this run already saved rows, else None."""
        if not self.done:
            return None
        return f"continuing: {len(self.done)} of {self.total} rows saved"

    def pace(self) -> str:
        """The whole run's progress and what is left, from the rows this process computed:
        "8 of 15 rows saved; left: about 25 min for 5 table rows, 2 curve rows not timed
        yet". Kinds come from ``kinds``; without it every row counts as one kind."""
        left = []
        unknown = []
        counted = self.kinds or {"": self.total}
        for kind, count in counted.items():
            remaining = count - sum(1 for k in self.done if _kind(k, self.kinds) == kind)
            if remaining <= 0:
                continue
            name = f"{remaining} {kind + ' ' if kind else ''}row{'s' * (remaining != 1)}"
            took = self._seconds.get(kind)
            if took:
                left.append((remaining * sum(took) / len(took), name))
            else:
                unknown.append(name)
        text = f"{len(self.done)} of {self.total} rows saved"
        if not left and not unknown:
            return text
        parts = [f"about {_minutes(sum(s for s, _ in left))} for {', '.join(n for _, n in left)}"]
        parts = parts if left else []
        if unknown:
            parts.append(f"{', '.join(unknown)} not timed yet")
        return f"{text}; left: {'; '.join(parts)}"

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
        row = json.loads(path.read_text(encoding="utf-8"))
        self._last = time.perf_counter()  # the next row's time is its own
        return row

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
        now = time.perf_counter()
        self._seconds.setdefault(_kind(key, self.kinds), []).append(now - self._last)
        self._last = now
        interrupt.rows_saved(len(self.done), self.total)

    def finish(self) -> None:
        """Mark the run finished: call after results.json is written."""
        self._write_progress(partial=False)
