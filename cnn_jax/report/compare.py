"""Published against measured: read each registry entry's number from its run's results.json
and give the verdict of its rule.

Verdicts: ``reproduced`` (the rule holds), ``near`` (it misses by at most the entry's
tolerance, or twice it for ``within``, or its square for ``factor``), ``inconclusive`` (it
misses, but the 95 % t-interval of our seeds' mean reaches the published side), ``not
comparable (budget r)`` (it misses at r of the published updates, below the fraction at which
the entry's claim should already show: its ``claim_budget``, else :data:`CLAIM_BUDGET`), ``not
reproduced``, and ``not measured`` (the run or the key is missing). The rules of the last two
steps are :mod:`cnn_jax.stats`'s; a row's ``why`` says which rule gave it and the interval.

    rows = compare.rows(published.load(), "runs/reproduce")
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from cnn_jax import stats
from cnn_jax.published import Entry, Key, lookup

REPRODUCED, NEAR, NOT, MISSING = "reproduced", "near", "not reproduced", "not measured"
INCONCLUSIVE, NOT_COMPARABLE = stats.INCONCLUSIVE, stats.NOT_COMPARABLE
VERDICTS = (REPRODUCED, NEAR, INCONCLUSIVE, NOT_COMPARABLE, NOT, MISSING)
# Where an entry does not say at what fraction of the published updates its claim should
# already show, a miss below half of them is not held against the paper.
CLAIM_BUDGET = 0.5


@dataclass(frozen=True)
class Row:
    """One registry entry against the study's measurement."""

    entry: Entry
    measured: float | tuple[float, ...] | None  # in the published unit; a mean over seeds
    band: tuple[float, float] | None  # our seeds' range (or percentiles), when there are seeds
    seeds: int
    verdict: str
    budget_ratio: float | None  # our updates / the published updates
    problem: str = ""  # why there is no measurement
    why: str = ""  # the rule and interval behind an inconclusive or not-comparable verdict

    @property
    def label(self) -> str:
        """The verdict as shown: "not comparable (budget 0.001)" with its ratio."""
        if self.verdict == NOT_COMPARABLE and self.budget_ratio is not None:
            return f"{NOT_COMPARABLE} (budget {self.budget_ratio:.2g})"
        return self.verdict


# ----------------------------------------------------------------------------- the rules


def verdict(rule: str, published, measured, tolerance: float = 0.0, band=None) -> str:
    """The verdict of one rule. ``published`` and ``measured`` are numbers, or sequences for
    ``ordering``; ``band`` is (low, high) of our seeds for ``seed_band``."""
    if rule == "ordering":
        return _ordering(published, measured, tolerance)
    p, m = float(published), float(measured)
    if rule == "within":
        miss = abs(m - p)
        return REPRODUCED if miss <= tolerance else NEAR if miss <= 2 * tolerance else NOT
    if rule == "seed_band":
        low, high = band if band is not None else (m, m)
        miss = max(low - p, p - high, 0.0)
    elif rule == "at_least":
        miss = max(p - m, 0.0)
    elif rule == "at_most":
        miss = max(m - p, 0.0)
    elif rule == "exact":
        miss = abs(m - p)
    elif rule == "factor":
        if p <= 0 or m <= 0:
            return NOT
        ratio = max(m / p, p / m)
        return REPRODUCED if ratio <= tolerance else NEAR if ratio <= tolerance**2 else NOT
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return REPRODUCED if miss <= 1e-9 else NEAR if miss <= tolerance else NOT


def _ordering(published, measured, tolerance: float) -> str:
    """Same ordering: every pair the paper orders strictly is ordered the same way here.
    Near: the pairs that are not are closer than ``tolerance`` in our numbers."""
    pairs = [
        (i, j)
        for i in range(len(published))
        for j in range(i + 1, len(published))
        if published[i] != published[j]
    ]
    wrong = [
        (i, j) for i, j in pairs if (published[i] < published[j]) != (measured[i] < measured[j])
    ]
    if not wrong:
        return REPRODUCED
    close = all(abs(measured[i] - measured[j]) <= tolerance for i, j in wrong)
    return NEAR if close else NOT


# ----------------------------------------------------------------------------- measuring


def run_results(results_root: str | Path, run: str) -> list[dict]:
    """The results.json of a run, or of each of its seeds (<run>/s0, s1, ...)."""
    folder = Path(results_root) / run
    if (folder / "results.json").is_file():
        return [json.loads((folder / "results.json").read_text())]
    seeds = sorted(
        (p for p in folder.glob("s*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:])
    )
    return [
        json.loads((s / "results.json").read_text())
        for s in seeds
        if (s / "results.json").is_file()
    ]


def _number(tree, entry: Entry, key: Key) -> float | list[float]:
    value = lookup(tree, key)
    if entry.ratio_of is not None:  # rows of per-layer values, e.g. ‖δˡ‖ per epoch
        a, b = entry.ratio_of
        value = _median([row[a] / row[b] for row in value])
    if entry.divide_by is not None:
        value = _scalar(value) / _scalar(lookup(tree, entry.divide_by))
    if isinstance(value, list) and entry.list_is == "layers":
        value = _scalar(value)  # one number: the mean over the layers
    if isinstance(value, list):
        return [float(v) * entry.scale for v in _flat(value)]
    return float(value) * entry.scale


def _flat(values):
    for v in values:
        yield from _flat(v) if isinstance(v, list) else (v,)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _scalar(value) -> float:
    if isinstance(value, list):
        flat = list(_flat(value))
        return sum(flat) / len(flat)
    return float(value)


def seed_values(entry: Entry, trees: list[dict]) -> list[float]:
    """Our values of one entry (not an ordering): one per seed, or per item of a list."""
    values = []
    for tree in trees:
        number = _number(tree, entry, entry.key)
        values += number if isinstance(number, list) else [number]
    return values


def measure(entry: Entry, trees: list[dict]):
    """(measured, band, seeds) for one entry from its run's results (one per seed)."""
    if entry.rule == "ordering":
        per_key = [[_scalar(_number(t, entry, k)) for t in trees] for k in entry.key]
        return tuple(sum(v) / len(v) for v in per_key), None, len(trees)
    values = seed_values(entry, trees)
    mean = sum(values) / len(values)
    band = (min(values), max(values)) if len(values) > 1 else None
    if entry.band is not None:
        low = min(_scalar(lookup(t, entry.band[0])) * entry.scale for t in trees)
        high = max(_scalar(lookup(t, entry.band[1])) * entry.scale for t in trees)
        band = (low, high)
    return mean, band, len(values)


def our_updates(entry: Entry, tree: dict) -> float | None:
    """Our number of parameter updates: stated, at a key, or epochs × ⌈images / batch⌉."""
    if entry.our_updates is not None:
        return float(entry.our_updates)

    def get(part):
        return float(part) if isinstance(part, int | float) else _scalar(lookup(tree, part))

    try:
        if entry.our_updates_key is not None:
            return get(entry.our_updates_key)
        if entry.updates_from is not None:
            f = entry.updates_from
            return get(f["epochs"]) * math.ceil(get(f["images"]) / get(f["batch"]))
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return None


def budget_ratio(entry: Entry, trees: list[dict]) -> float | None:
    """Our updates / the published updates (None when either is unknown)."""
    ours = our_updates(entry, trees[0]) if trees else None
    if ours is None or not entry.updates:
        return None
    return ours / float(entry.updates)


def row(entry: Entry, results_root: str | Path) -> Row:
    if not entry.run:
        return Row(entry, None, None, 0, MISSING, None, "no run of this study measures it")
    try:
        trees = run_results(results_root, entry.run)
    except (OSError, ValueError) as e:
        return Row(entry, None, None, 0, MISSING, None, f"cannot read {entry.run}: {e}")
    if not trees:
        return Row(entry, None, None, 0, MISSING, None, f"no results.json in {entry.run}")
    try:
        measured, band, seeds = measure(entry, trees)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as e:
        return Row(entry, None, None, 0, MISSING, None, f"{entry.run}: {e}")
    finite = all(map(math.isfinite, measured if isinstance(measured, tuple) else [measured]))
    if not finite:
        return Row(entry, None, None, seeds, MISSING, None, f"{entry.run}: not a finite number")
    v = verdict(entry.rule, entry.value, measured, entry.tolerance, band)
    ratio = budget_ratio(entry, trees)
    v, why = settle(entry, v, [] if entry.rule == "ordering" else seed_values(entry, trees), ratio)
    return Row(entry, measured, band, seeds, v, ratio, why=why)


# The side of the published number on which each rule holds: (low, high) of the region.
_HOLDS = {
    "within": lambda p, tol: (p - tol, p + tol),
    "at_most": lambda p, tol: (-math.inf, p),
    "at_least": lambda p, tol: (p, math.inf),
}


def settle(entry: Entry, v: str, values: list[float], ratio: float | None) -> tuple[str, str]:
    """A miss (``near`` or ``not reproduced``) read against its uncertainty and budget:
    (verdict, why). A miss at a budget below the entry's claim budget is ``not comparable``;
    one whose seeds' 95 % t-interval reaches the region where the rule holds is
    ``inconclusive``; the rest stand."""
    if v not in (NEAR, NOT):
        return v, ""
    claim = entry.claim_budget if entry.claim_budget is not None else CLAIM_BUDGET
    if v == NOT and (gate := stats.budget_gate(ratio, claim)) is not None:
        return NOT_COMPARABLE, gate.rule
    finite = [x for x in values if math.isfinite(x)]
    if entry.rule in _HOLDS and len(finite) >= 2 and len(finite) == len(values):
        ci = stats.mean_interval(finite)
        low, high = _HOLDS[entry.rule](float(entry.value), entry.tolerance)
        if ci.low <= high and ci.high >= low:
            return INCONCLUSIVE, f"the interval of our mean reaches where the rule holds; {ci}"
    return v, ""


def rows(entries: list[Entry], results_root: str | Path) -> list[Row]:
    """Every entry against the runs under ``results_root`` (a reproduce output folder)."""
    return [row(e, results_root) for e in entries]


def counts(table: list[Row]) -> dict[str, int]:
    """How many rows have each verdict, in the order of :data:`VERDICTS`."""
    return {v: sum(r.verdict == v for r in table) for v in VERDICTS}
