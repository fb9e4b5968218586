"""The numbers the docs' prose quotes, each checked against a stored source (``python -m
cnn_jax.report --docs --check``).

A quoted number is a decimal followed by "%" or "points" outside the generated blocks, the
code blocks and the indented commands of README.md and docs/*.md. It is backed when, at the
decimals it is printed with, it equals

- a number in a generated block of the same file (those are rendered from docs/results/);
- a stored value of a snapshot in docs/results/ (of the page's chapter and of the chapters it
  links to; every chapter for the README), as stored, times 100 (an accuracy or a rate) or as
  100 − 100·x (an error);
- a number of the registry of published results (cnn_jax/published.toml);

or 100 minus one of those (an error quoted for an accuracy, or the other way round).

Anything else was typed, and a rerun would not change it: the check names it with its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

QUOTED = re.compile(r"(?<![\w.±-])(\d+\.\d+)(?=\s?(?:%|points?\b))")
# A generated block of the docs (cnn_jax/report/docs.py fills them); its numbers are rendered
# from the snapshots, so the prose may quote them.
BLOCK = re.compile(
    r"(<!-- begin generated: (?P<name>[\w./-]+) -->\n)(?P<body>.*?)"
    r"(<!-- end generated: (?P=name) -->)",
    re.DOTALL,
)
LINK = re.compile(r"\]\((?:docs/)?(\w+)\.md")
CODE = re.compile(r"```.*?```", re.DOTALL)
LITERAL = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _floats(obj) -> Iterator[float]:
    """Every number inside a JSON value."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, int | float):
        yield float(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _floats(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v)


def _printed(values: Iterable[float], decimals: int, fraction: bool) -> set[str]:
    """Each value as it would be printed with ``decimals`` decimals: as stored and as 100
    minus it (an error of an accuracy); a ``fraction`` also times 100 and as 100 − 100·x."""
    out = set()
    for x in values:
        forms = (x, 100 * x, 100 - 100 * x) if fraction else (x, 100 - x)
        for y in forms:
            if abs(y) < 1e6:
                out.add(f"{abs(y):.{decimals}f}")
    return out


def quoted(text: str) -> list[tuple[int, str]]:
    """(line number, number) of each number the prose quotes, generated blocks, fenced code
    and indented lines left out."""

    def blank(m: re.Match) -> str:  # keep the line numbers
        return "\n" * m.group(0).count("\n")

    text = CODE.sub(blank, BLOCK.sub(blank, text))
    found = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("    ") or line.startswith("\t"):
            continue
        found += [(n, m.group(1)) for m in QUOTED.finditer(line)]
    return found


def unbacked(path: Path, snapshots: dict[str, dict], registry_text: str) -> list[str]:
    """One line per number quoted in ``path``'s prose that no stored source backs."""
    text = path.read_text()
    if path.parent.name == "docs":
        pages = {path.stem, *LINK.findall(text)}
        stored = [s for name, s in snapshots.items() if name in pages]
    else:
        stored = list(snapshots.values())
    blocks = " ".join(m.group("body") for m in BLOCK.finditer(text))
    plain = {m.group(0).lstrip("-") for m in LITERAL.finditer(blocks + " " + registry_text)}
    cache: dict[int, set[str]] = {}
    lines = []
    for n, number in quoted(text):
        decimals = len(number.split(".")[1])
        if decimals not in cache:
            values = [x for s in stored for x in _floats(s["runs"])]
            cache[decimals] = _printed(values, decimals, fraction=True)
            cache[decimals] |= _printed([float(p) for p in plain], decimals, fraction=False)
        if number not in cache[decimals]:
            lines.append(f"{path.name}:{n}: {number} has no stored source")
    return lines
