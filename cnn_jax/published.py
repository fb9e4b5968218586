"""The published numbers the study is compared against, loaded from ``published.toml``.

Each entry holds one published number (or ordering), what kind of number it is (final or
best epoch, at init, a bound, ...), the setting and budget it was measured at, its source
and how the source was checked, and where the study's own measurement is: a run folder
under the reproduce output (``run``) and a key path inside that run's ``results.json``
(``key``). A key path is a list: a string indexes a mapping by that key; on a list,
``"field=value"`` picks the item whose ``field`` equals ``value`` and an integer indexes.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).with_name("published.toml")
NIELSEN = Path(__file__).parent / "reference" / "nielsen.json"

KINDS = (
    "final epoch",
    "best epoch",
    "not stated",
    "at init",
    "mean ± sd over N seeds",
    "bound",
    "count",
    "ratio",
)
RULES = ("seed_band", "within", "at_least", "at_most", "ordering", "exact", "factor")

Key = tuple[str | int, ...]


@dataclass(frozen=True)
class Source:
    authors: str
    year: int
    title: str
    where: str  # table, figure, section or line
    checked: str  # how the number was checked, or why it could not be
    verified: bool  # False: the number could not be checked against the source itself


@dataclass(frozen=True)
class Entry:
    id: str
    chapter: str
    quantity: str
    value: float | tuple[float, ...]
    unit: str
    kind: str
    network: str
    data: str
    source: Source
    run: str  # empty: no run of the study measures it (listed for context)
    key: Key | tuple[Key, ...]  # one path, or one per value for the ordering rule
    rule: str
    tolerance: float = 0.0
    sd: float | None = None  # the published spread of a "mean ± sd" entry
    updates: float | None = None  # the published number of parameter updates
    updates_note: str = ""
    # the fraction of ``updates`` at which the claim should already show: a miss at a smaller
    # budget is "not comparable" (None: the report's default, compare.CLAIM_BUDGET)
    claim_budget: float | None = None
    scale: float = 1.0  # our number × scale is in the published unit (fractions -> %)
    divide_by: Key | None = None  # our number is key / divide_by (a ratio of two results)
    band: tuple[Key, Key] | None = None  # keys of our seeds' low and high percentiles
    our_updates: float | None = None  # our number of updates, when stated
    our_updates_key: Key | None = None  # or a key path to it
    updates_from: dict | None = None  # or {epochs, images, batch}: keys or numbers
    ratio_of: tuple[int, int] | None = None  # median over rows of row[a] / row[b]
    list_is: str = "seeds"  # a list at ``key`` holds one value per "seeds" or per "layers"
    note: str = ""
    reference: dict = field(default_factory=dict)  # {"file": ..., "path": [...]}: an extract


def _key(raw) -> Key:
    return tuple(raw)


def _entry(raw: dict) -> Entry:
    raw = dict(raw)
    source = Source(**raw.pop("source"))
    if raw["rule"] == "ordering":
        raw["key"] = tuple(_key(k) for k in raw["key"])
        raw["value"] = tuple(raw["value"])
    else:
        raw["key"] = _key(raw["key"])
    for name in ("divide_by", "our_updates_key"):
        if raw.get(name) is not None:
            raw[name] = _key(raw[name])
    if raw.get("ratio_of") is not None:
        raw["ratio_of"] = tuple(raw["ratio_of"])
    if raw.get("band") is not None:
        raw["band"] = (_key(raw["band"][0]), _key(raw["band"][1]))
    entry = Entry(source=source, **raw)
    if entry.kind not in KINDS:
        raise ValueError(f"{entry.id}: kind {entry.kind!r} is not one of {KINDS}")
    if entry.rule not in RULES:
        raise ValueError(f"{entry.id}: rule {entry.rule!r} is not one of {RULES}")
    return entry


def load(path: str | Path = DATA) -> list[Entry]:
    """Every entry of the registry, in the file's (the story's) order."""
    with open(path, "rb") as f:
        entries = [_entry(raw) for raw in tomllib.load(f)["entry"]]
    ids = [e.id for e in entries]
    duplicate = {i for i in ids if ids.count(i) > 1}
    if duplicate:
        raise ValueError(f"duplicate registry ids: {sorted(duplicate)}")
    return entries


def lookup(tree, key: Key):
    """The value at ``key`` inside a parsed results.json (KeyError when it is not there)."""
    node = tree
    for part in key:
        if isinstance(node, list):
            if isinstance(part, int):
                node = node[part]
                continue
            name, _, want = str(part).partition("=")
            matches = [item for item in node if str(item.get(name)) == want]
            if not matches:
                raise KeyError(f"no item with {part} in {key}")
            node = matches[0]
        else:
            if part not in node:
                raise KeyError(f"{part!r} of {key}")
            node = node[part]
    return node


def nielsen() -> dict:
    """Nielsen's own per-epoch numbers (cnn_jax/reference/nielsen.json, source inside)."""
    return json.loads(NIELSEN.read_text())
