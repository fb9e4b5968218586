"""Published against measured: read each registry entry's number from its run's results.json
and give the verdict of its rule.

Verdicts: ``reproduced`` (the rule holds), ``near`` (it misses by at most the entry's
tolerance, or twice it for ``within``, or its square for ``factor``), ``inconclusive`` (it
misses, but the 95 % t-interval of our seeds' mean reaches the published side), ``not
comparable (budget r)`` (it misses at r of the published updates, below the fraction at which
the entry's claim should already show: its ``claim_budget``, else :data:`CLAIM_BUDGET`), ``not
reproduced``, ``unreadable`` (a value there is not a finite number of the expected kind: shown
with the reason, never scored; :mod:`cnn_jax.report.checks`) and ``not measured`` (the run or
the key is missing; a failed run says so, with its exit code and last line). The rules of
inconclusive and not comparable are :mod:`cnn_jax.stats`'s; a row's ``why`` says which rule
gave its verdict and the interval. Beside each row, ``full`` is the entry against the
recorded full-scale run of the docs' stored results, when there is one.

    rows = compare.rows(published.load(), "runs/reproduce", docs.recorded())
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cnn_jax import stats
from cnn_jax.chapter import FULL
from cnn_jax.published import Entry, Key, lookup
from cnn_jax.report import checks

REPRODUCED, NEAR, NOT, MISSING = "reproduced", "near", "not reproduced", "not measured"
INCONCLUSIVE, NOT_COMPARABLE = stats.INCONCLUSIVE, stats.NOT_COMPARABLE
UNREADABLE = "unreadable"
VERDICTS = (REPRODUCED, NEAR, INCONCLUSIVE, NOT_COMPARABLE, NOT, UNREADABLE, MISSING)
CLAIM_BUDGET = stats.CLAIM_BUDGET  # an entry's claim budget when it states none


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
    scale: str | None = None  # the scale its run was reproduced at, when recorded
    why: str = ""  # the rule and interval behind an inconclusive or not-comparable verdict
    full: Row | None = None  # the entry against its recorded full-scale run, when stored

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
    """The results.json of a run, or of each of its seeds (<run>/s0, s1, ...); one that is
    not a JSON object is :class:`~cnn_jax.report.checks.Unreadable`."""
    folder = Path(results_root) / run
    if (folder / "results.json").is_file():
        return [checks.read_results(folder / "results.json")]
    return [checks.read_results(s / "results.json") for s in _seed_folders(folder)]


def _seed_folders(folder: Path) -> list[Path]:
    seeds = sorted(
        (p for p in folder.glob("s*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:])
    )
    return [s for s in seeds if (s / "results.json").is_file()]


def _number(tree, entry: Entry, key: Key, lists: bool = True) -> float | list[float]:
    """The entry's number at ``key``, each value checked (:func:`checks.reals`); ``lists``:
    a list there may hold one value per seed (a run without seed folders)."""
    where = ".".join(map(str, key))
    value = lookup(tree, key)
    if entry.ratio_of is not None:  # rows of per-layer values, e.g. ‖δˡ‖ per epoch
        a, b = entry.ratio_of
        if not isinstance(value, list):
            raise checks.Unreadable(f"{where} is not a list of rows")
        value = _median(
            [checks.real(row[a], f"{where}.{a}") / checks.real(row[b], f"{where}.{b}")
             for row in value]
        )  # fmt: skip
    if entry.divide_by is not None:
        divisor = checks.reals(lookup(tree, entry.divide_by), "divide_by", lists=True)
        value = _mean(checks.reals(value, where, lists=True)) / _mean(divisor)
    value = checks.reals(value, where, lists=lists or entry.list_is == "layers")
    if isinstance(value, list) and entry.list_is == "layers":
        value = _mean(value)  # one number: the mean over the layers
    if isinstance(value, list):
        return [v * entry.scale for v in value]
    return value * entry.scale


def _mean(value: float | list[float]) -> float:
    return sum(value) / len(value) if isinstance(value, list) else value


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def measure(entry: Entry, trees: list[dict], lists: bool | None = None):
    """(measured, band, seeds) for one entry from its run's results (one per seed).
    ``lists``: whether a list at the key may hold one value per seed; by default only when
    there is one results.json (a run in seed folders has one number per folder)."""
    lists = len(trees) == 1 if lists is None else lists
    if entry.rule == "ordering":
        per_key = [[_mean(_number(t, entry, k, lists)) for t in trees] for k in entry.key]
        return tuple(sum(v) / len(v) for v in per_key), None, len(trees)
    values = seed_values(entry, trees, lists)
    mean = sum(values) / len(values)
    band = (min(values), max(values)) if len(values) > 1 else None
    if entry.band is not None:
        low = min(_mean(checks.reals(lookup(t, entry.band[0]), "band", lists=True)) for t in trees)
        high = max(_mean(checks.reals(lookup(t, entry.band[1]), "band", lists=True)) for t in trees)
        band = (low * entry.scale, high * entry.scale)
    return mean, band, len(values)


def seed_values(entry: Entry, trees: list[dict], lists: bool) -> list[float]:
    """Our values of one entry (not an ordering): one per seed, or per item of a list."""
    values = []
    for tree in trees:
        number = _number(tree, entry, entry.key, lists)
        values += number if isinstance(number, list) else [number]
    return values


def our_updates(entry: Entry, tree: dict) -> float | None:
    """Our number of parameter updates: stated, at a key, or epochs × ⌈images / batch⌉."""
    if entry.our_updates is not None:
        return float(entry.our_updates)

    def get(part):
        if isinstance(part, int | float):
            return float(part)
        return _mean(checks.reals(lookup(tree, part), "updates", lists=True))

    try:
        if entry.our_updates_key is not None:
            return get(entry.our_updates_key)
        if entry.updates_from is not None:
            f = entry.updates_from
            return get(f["epochs"]) * math.ceil(get(f["images"]) / get(f["batch"]))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None  # Unreadable is a ValueError
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
    root = Path(results_root)
    scale = checks.run_scale(root, entry.run)
    try:
        trees = run_results(root, entry.run)
    except checks.Unreadable as e:
        return Row(entry, None, None, 0, UNREADABLE, None, f"unreadable: {e}", scale)
    except OSError as e:
        return Row(entry, None, None, 0, MISSING, None, f"cannot read {entry.run}: {e}", scale)
    if not trees:
        why = checks.run_failure(root, entry.run) or f"no results.json in {entry.run}"
        return Row(entry, None, None, 0, MISSING, None, why, scale)
    seeded = not (root / entry.run / "results.json").is_file()
    return judge(entry, trees, seeded, scale, failure=lambda: checks.run_failure(root, entry.run))


def judge(
    entry: Entry,
    trees: list[dict],
    seeded: bool,
    scale: str | None,
    failure: Callable[[], str | None] = lambda: None,
) -> Row:
    """The entry against its run's results ``trees`` (one per seed when ``seeded``);
    ``failure`` names why the run failed, for a key its results lack."""
    try:
        measured, band, seeds = measure(entry, trees, lists=not seeded)
    except checks.Unreadable as e:
        return Row(entry, None, None, 0, UNREADABLE, None, f"unreadable: {e}", scale)
    except (KeyError, IndexError, TypeError, AttributeError, ZeroDivisionError) as e:
        why = failure() or f"{entry.run}: {e}"
        return Row(entry, None, None, 0, MISSING, None, why, scale)
    except ValueError as e:
        return Row(entry, None, None, 0, UNREADABLE, None, f"unreadable: {e}", scale)
    finite = all(map(math.isfinite, measured if isinstance(measured, tuple) else [measured]))
    if not finite:  # a ratio or mean of finite numbers can still overflow
        why = f"unreadable: {entry.run}: not a finite number"
        return Row(entry, None, None, seeds, UNREADABLE, None, why, scale)
    v = verdict(entry.rule, entry.value, measured, entry.tolerance, band)
    ratio = budget_ratio(entry, trees)
    values = [] if entry.rule == "ordering" else seed_values(entry, trees, not seeded)
    v, why = settle(entry, v, values, ratio)
    return Row(entry, measured, band, seeds, v, ratio, "", scale, why)


def recorded_full(entry: Entry, snapshots: Mapping[str, dict]) -> Row | None:
    """The entry against the recorded full-scale run of its chapter's docs snapshot
    (``<run>@full`` in docs/results/<chapter>.json), when one is stored and keeps the
    entry's number; else None."""
    snapshot = snapshots.get(entry.chapter)
    stored = snapshot["runs"].get(entry.run + FULL) if snapshot and entry.run else None
    if stored is None:
        return None
    trees = stored.get("seeds", [stored])
    full = judge(entry, trees, "seeds" in stored, "full (recorded)")
    return full if full.measured is not None else None


# The region where each rule holds, (low, high), around the published p with tolerance tol.
_HOLDS = {
    "within": lambda p, tol: (p - tol, p + tol),
    "at_most": lambda p, tol: (-math.inf, p),
    "at_least": lambda p, tol: (p, math.inf),
}


def settle(entry: Entry, v: str, values: list[float], ratio: float | None) -> tuple[str, str]:
    """A miss (``near`` or ``not reproduced``) read against its budget and uncertainty:
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


def rows(
    entries: list[Entry], results_root: str | Path, snapshots: Mapping[str, dict] | None = None
) -> list[Row]:
    """Every entry against the runs under ``results_root`` (a reproduce output folder), each
    beside its recorded full-scale result in ``snapshots`` (the docs' stored results)."""
    snapshots = snapshots or {}
    return [
        dataclasses.replace(row(e, results_root), full=recorded_full(e, snapshots)) for e in entries
    ]


def counts(table: list[Row]) -> dict[str, int]:
    """How many rows have each verdict, in the order of :data:`VERDICTS`."""
    return {v: sum(r.verdict == v for r in table) for v in VERDICTS}
