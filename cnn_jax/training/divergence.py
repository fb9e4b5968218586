"""A grid survives its worst member: a configuration that diverges is a result, not a crash.

In a learning-rate (or λ, width, ...) grid the largest rate diverging is an expected
outcome. Such a configuration is recorded as diverged (which value, which epoch, why),
left out of every selection and mean, and shown as "diverged" in the tables. Only a row
whose every configuration diverges stops the run (:class:`Diverged`, exit 3), because then
there is nothing left to report.

The rule, for any grid::

    record = diverged(config=3, epoch=2, why="non-finite training cost", lr=0.3)
    records = [record, ...]                    # JSON-ready dicts, saved with the row
    require_survivor("Table 1 relu He", records, configs=6, hint="lower the learning rate (--lrs)")
    finite = survivors(configs=6, records=records)   # [C] bool: which may be selected
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnn_jax.errors import Diverged

DIVERGED = "diverged"  # how a diverged configuration reads in a table cell


def diverged(*, config: int, epoch: int | None, why: str, **values) -> dict:
    """The JSON record of one diverged configuration: its index in the grid, the first epoch
    (1-based) whose numbers were not finite (None: only known at the end), why, and the
    grid's values that name it (``lr=0.3``, ``width=64``, ``seed=1``)."""
    return {"config": int(config), "epoch": epoch, "why": why, **values}


def describe(record: dict) -> str:
    """One record as words: "lr=0.3, seed 1: non-finite training cost in epoch 2"."""
    names = ", ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in record.items()
        if k not in ("config", "epoch", "why")
    )
    when = f" in epoch {record['epoch']}" if record.get("epoch") is not None else ""
    return f"{names or 'configuration ' + str(record['config'])}: {record['why']}{when}"


def survivors(configs: int, records: Sequence[dict]) -> np.ndarray:
    """[configs] bool: True for every configuration that did not diverge."""
    ok = np.ones(configs, bool)
    ok[[int(r["config"]) for r in records]] = False
    return ok


def require_survivor(row: str, records: Sequence[dict], configs: int, hint: str) -> None:
    """Raise :class:`Diverged` (one line: the row, its first diverged configuration and
    ``hint``) when every one of the row's ``configs`` configurations diverged."""
    if configs and len({int(r["config"]) for r in records}) >= configs:
        first = min(records, key=lambda r: (r.get("epoch") or 0, r["config"]))
        raise Diverged(f"{row}: every configuration diverged, first {describe(first)}; {hint}")


def json_floats(values) -> list:
    """An array as nested lists of floats, None for a NaN (a diverged configuration's
    epochs): strict JSON holds no NaN."""
    values = np.asarray(values, np.float64)
    return np.where(np.isfinite(values), values, None).tolist()
