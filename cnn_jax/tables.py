"""The cells every chapter's Markdown tables share: the table itself, percentages, errors,
signed gaps, and the published numbers by id (cnn_jax/published.toml, each checked in its
source). Chapters' tables (their ``chapter.py``) build on these; nothing here imports JAX."""

from __future__ import annotations

import functools
import statistics
from collections.abc import Sequence

from cnn_jax import published as registry


@functools.cache
def published() -> dict[str, float | tuple[float, ...]]:
    """{entry id: published value} of the registry."""
    return {e.id: e.value for e in registry.load()}


@functools.cache
def tolerance(entry_id: str) -> float:
    """The registry's tolerance of entry ``entry_id``."""
    return next(e.tolerance for e in registry.load() if e.id == entry_id)


@functools.cache
def updates(entry_id: str) -> float | None:
    """The published number of parameter updates of entry ``entry_id`` (None: not stated)."""
    return next(e.updates for e in registry.load() if e.id == entry_id)


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; cells are written with ``str``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(x: float | None, digits: int = 2) -> str:
    """A fraction in [0, 1] as a percentage, or "–"."""
    return "–" if x is None else f"{100 * x:.{digits}f}"


def scalar(x) -> float:
    """A number, or the mean of a list of them (a per-layer value averaged over layers)."""
    return float(statistics.mean(x)) if isinstance(x, list) else float(x)


def side(ours: float, theirs: float) -> str:
    return "above" if ours > theirs else "below" if ours < theirs else "equal to"


def error(x: float) -> str:
    return f"{x:.3f}" if x >= 0.01 else f"{x:.2g}"


def g(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}"


def mean_sd(r: dict, key: str) -> str:
    """``key``_mean ± ``key``_sd of a row, or "–" when the run did not record it."""
    mean = r.get(f"{key}_mean")
    return "–" if mean is None else f"{mean:.2f} ± {r[f'{key}_sd']:.2f}"


def signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.2f}"


def signed_interval(i) -> str:
    """ "+0.23 [+0.09, +0.38]": a difference's estimate and its interval (a stats.Interval)."""
    return f"{signed(i.estimate)} [{signed(i.low)}, {signed(i.high)}]"


def where_in_spread(published: float, values: list[float]) -> str:
    """Where a published number (%) sits among our seeds' values (%): below or above all of
    them, or inside, with how many seeds reach it."""
    reach = sum(v >= published for v in values)
    if reach == 0:
        return f"above all {len(values)} seeds"
    if reach == len(values):
        return f"below all {len(values)} seeds"
    return f"inside: {reach} of {len(values)} seeds reach it"
