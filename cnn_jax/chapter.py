"""What a chapter of the study declares, once, in its own folder.

A chapter (``cnn_jax/studies/<name>/chapter.py``, or ``cnn_jax/inside/<name>_chapter.py``)
holds one :class:`Chapter`: its question, its runs and their flags at every scale with the
reason for each reduction, the result keys its tables read, the tables themselves, its
headline and the pages it links to. The report, the docs and experiments/reproduce.py read
the chapters from the one list in :mod:`cnn_jax.report.chapters`; nothing else names them.

A chapter module imports no JAX (``python -m cnn_jax.report`` reads only stored JSON): its
tables take a snapshot ``{"chapter", "provenance", "runs": {run: results}}`` and return
Markdown.

A run's flags at a scale come from its config's presets (:class:`FromPreset`: the values
and the reason for a reduction sit beside the config, in its ``PRESETS``), plus the flags
that make the run what it is (its network, its rows), given as argument lists by
:func:`argv`: never a string split later, so a path with a space or a quote stays one
argument. A value :class:`Out` names a folder under the reproduce output (one run reading
another's checkpoint).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cnn_jax import flags

SCALES = ("smoke", "default", "full")
FULL = "@full"  # a snapshot's run taken from a reproduction at --scale full: "<path>@full"


def of_run(draw: Callable, run: str) -> Callable:
    """A figure of one run's results.json, ``draw(results)``, as a figure of a snapshot's
    runs: ``draw(runs[run])`` (a snapshot without ``run``: KeyError, and --docs leaves the
    figure as it is). A chapter's ``FIGURES`` are built from these."""
    return lambda runs: draw(runs[run])


Snapshot = dict  # {"chapter": name, "provenance": {run: ...}, "runs": {run: results}}
Headline = tuple[str, str, str]  # (measured, published, verdict) for the README's summary


@dataclass(frozen=True)
class Out:
    """A folder under the reproduce output folder, filled in when the plan is made."""

    path: str

    def under(self, out: Path) -> str:
        return str(out / self.path)


Value = str | int | float | bool | Out | tuple | list


def argv(**values: Value) -> tuple[str | Out, ...]:
    """Flag arguments from flag names and values, in order: ``True`` is a bare switch
    (``no_progress=True`` -> ``--no-progress``), a tuple is one comma-separated value, a list
    repeats the flag (``checkpoint=[Out(a), Out(b)]``), anything else is ``str(value)``."""
    out: list[str | Out] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            out.append(flag)
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = ",".join(map(str, item))
            out += [flag, item if isinstance(item, Out) else str(item)]
    return tuple(out)


@dataclass(frozen=True)
class FromPreset:
    """The preset ``name`` of the config class ``config`` ("module:Class"), as flags. The
    module is imported only when reproduce.py plans (it may import JAX; the report never
    asks)."""

    config: str
    name: str

    def _cls(self) -> type:
        module, cls = self.config.split(":")
        return getattr(importlib.import_module(module), cls)

    def args(self) -> tuple[str, ...]:
        """The preset's flags; none when the config has no preset of that name (the scale
        is its defaults)."""
        cls = self._cls()
        return flags.preset_args(cls, self.name) if self.name in cls.PRESETS else ()

    def why(self) -> str:
        preset = self._cls().PRESETS.get(self.name)
        return preset.why if preset else ""


def presets_of(config: str) -> Callable[[str], FromPreset]:
    """``presets_of("module:Class")("smoke")``: that config's preset "smoke"."""
    return functools.partial(FromPreset, config)


def scales(*configs: str, args: tuple = (), minutes: tuple[float, float, float]) -> dict:
    """smoke, default and full of a run whose every scale is its configs' preset of that
    name (a config without one: its defaults), plus ``args``: ``Run(path, script,
    **scales(config, args=..., minutes=(smoke, default, full)))``."""
    return {
        scale: Setting(args, m, presets=tuple(FromPreset(c, scale) for c in configs))
        for scale, m in zip(SCALES, minutes, strict=True)
    }


@dataclass(frozen=True)
class Setting:
    """One scale of one run: its config presets and other flag arguments, the estimated
    minutes on a 2-core CPU, and why it differs from the script's defaults (``why``, else
    its presets' reasons; empty when it does not differ)."""

    args: tuple[str | Out, ...]
    minutes: float
    why: str = ""
    presets: tuple[FromPreset, ...] = ()

    def resolve(self, out: Path) -> tuple[str, ...]:
        """The arguments, the presets' first, each :class:`Out` as a path under ``out``."""
        own = tuple(a.under(out) if isinstance(a, Out) else a for a in self.args)
        return (*(a for p in self.presets for a in p.args()), *own)

    def reason(self) -> str:
        return self.why or "; ".join(filter(None, (p.why() for p in self.presets)))


@dataclass(frozen=True)
class Run:
    """One script call. ``path`` is its folder under the output folder, chapter first."""

    path: str
    script: str
    smoke: Setting
    default: Setting
    full: Setting
    seeded: bool = False  # --seeds N runs it N times, in <path>/s0, s1, ...
    page: str = ""  # the link text of the HTML page the run writes (index.html), if any

    def setting(self, scale: str) -> Setting:
        return getattr(self, scale)


@dataclass(frozen=True)
class Chapter:
    """One chapter: everything the report, the docs and reproduce.py know about it.

    ``keep`` is the results contract: for every run a snapshot holds (by its folder under
    the reproduce output; ``<path>@full`` from a reproduction at --scale full), the keys of
    its results.json that the tables read ("*" = every key at that level; a final "?" marks a
    key that only some settings write, see :func:`contract_problems`). ``optional``
    names runs a reproduction may not make (hours on a CPU, or another script): a snapshot
    then keeps their stored entries; every ``@full`` run is optional.
    """

    name: str
    title: str
    question: str  # the question in a paragraph, for the report
    summary: str  # the question in a line, for the README's table of chapters
    runs: tuple[Run, ...]
    keep: Mapping[str, tuple[str, ...]]
    tables: Mapping[str, Callable[[Snapshot], str]]
    headline: Callable[[dict], Headline]  # from the snapshot's runs
    optional: frozenset[str] = frozenset()
    links_to: tuple[str, ...] = ()  # other chapters' runs whose pages this chapter links
    # A module whose ``FIGURES`` maps a file name under docs/<name>/ to ``draw(runs)`` -> a
    # matplotlib figure of the snapshot's runs; ``--docs`` redraws them. Imported only then.
    figures: str = ""

    def is_optional(self, run: str) -> bool:
        return run in self.optional or run.endswith(FULL)


@dataclass(frozen=True)
class Keys:
    """Key paths of a results.json, with shared prefixes written once:
    ``Keys("rows.*", "test_error_mean", "chosen_lr").paths`` ->
    ("rows.*.test_error_mean", "rows.*.chosen_lr")."""

    prefix: str
    names: tuple[str, ...] = field(default=())

    def __init__(self, prefix: str, *names: str):
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "names", names)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f"{self.prefix}.{n}" if self.prefix else n for n in self.names)


def keys(*groups: Keys | str) -> tuple[str, ...]:
    """Key paths from plain paths and :class:`Keys` groups, in order."""
    out: list[str] = []
    for g in groups:
        out += [g] if isinstance(g, str) else list(g.paths)
    return tuple(out)


OPTIONAL_KEY = "?"  # the last character of a kept key that only some settings write


def key_parts(path: str) -> list[str]:
    """ "rows.*.seeds?" -> ["rows", "*", "seeds"]: a kept key's path, without its mark."""
    return path.removesuffix(OPTIONAL_KEY).split(".")


def contract_problems(results: dict, paths: tuple[str, ...]) -> list[str]:
    """What breaks the results contract ``paths`` in ``results``: a key path that finds
    nothing ("*" must match at least one key or item) unless it ends in "?", or a number
    under it that is not finite. None is a value ("not within the run"); NaN and infinity
    are not."""
    problems = []
    for path in paths:
        found = _find(results, key_parts(path))
        if not found and not path.endswith(OPTIONAL_KEY):
            problems.append(f"{path}: missing")
        problems += [f"{path}: {v!r} is not finite" for v in found if not _finite(v)]
    return problems


def _find(tree, parts: list[str]) -> list:
    if not parts:
        return [tree]
    head, rest = parts[0], parts[1:]
    if isinstance(tree, list):
        return [v for item in tree for v in _find(item, rest if head == "*" else parts)]
    if not isinstance(tree, dict):
        return []
    if head == "*":
        return [v for item in tree.values() for v in _find(item, rest)]
    return _find(tree[head], rest) if head in tree else []


def _finite(value) -> bool:
    if isinstance(value, dict):
        return all(map(_finite, value.values()))
    if isinstance(value, list):
        return all(map(_finite, value))
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return True
