"""Keep the tables of README.md and docs/*.md equal to the committed results.

Every results table in the docs sits between two markers::

    <!-- begin generated: <chapter>/<table> -->
    ...
    <!-- end generated: <chapter>/<table> -->

and is rendered from ``docs/results/<chapter>.json`` (a snapshot of that chapter's runs: each
run's results.json trimmed to the keys its chapter keeps) by the tables the chapter declares
(:class:`cnn_jax.chapter.Chapter`) and the published numbers. ``python -m cnn_jax.report
--docs`` rewrites the blocks; ``--check`` only reports the files that differ; ``--from-runs DIR``
first rebuilds the snapshots from ``DIR/<chapter>/<run>/results.json``, and ``--from-full-runs
DIR`` their ``<run>@full`` entries from a reproduction at --scale full (the flags:
cnn_jax/report/__main__.py; here :func:`update`).
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import sys
from pathlib import Path

from cnn_jax.chapter import FULL, key_parts
from cnn_jax.errors import UsageError
from cnn_jax.report import checks, runner
from cnn_jax.report.chapters import CHAPTERS, NAMES, chapter
from cnn_jax.report.prose import BLOCK, unbacked
from cnn_jax.results import write_text
from cnn_jax.tables import md_table

ROOT = Path(__file__).resolve().parents[2]


def snapshot_path(root: Path, chapter: str) -> Path:
    return root / "docs" / "results" / f"{chapter}.json"


def load_snapshots(root: Path) -> dict[str, dict]:
    return {c: json.loads(snapshot_path(root, c).read_text()) for c in NAMES}


def recorded(root: Path = ROOT) -> dict[str, dict]:
    """The stored snapshots that exist (none where the package runs without its docs/)."""
    return {
        c: json.loads(snapshot_path(root, c).read_text())
        for c in NAMES
        if snapshot_path(root, c).is_file()
    }


READER_OUT = "runs/reproduce"  # experiments/reproduce.py's default output folder
READER_DIR = "DIR"  # an output folder outside a reproduction's layout


def as_typed(command: str, run: str) -> str:
    """The command as a reader would type it: the output folder of the machine that ran it
    (the part of ``--out`` before the run's own path) becomes reproduce.py's default
    ``runs/reproduce``, wherever it appears (``--out``, ``--checkpoint``); an absolute
    ``--out`` outside that layout becomes ``DIR``."""
    try:
        words = shlex.split(command)
    except ValueError:  # not a shell line: shown as recorded
        return command
    if "--out" not in words[:-1]:
        return command
    out = words[words.index("--out") + 1]
    base = f"/{run.removesuffix(FULL)}/"
    if not Path(out).is_absolute():
        return command
    if base not in out + "/":  # a folder of the machine's own naming: the reader picks one
        return shlex.join(READER_DIR if w == out else w for w in words)
    root = out[: (out + "/").rindex(base)]
    return shlex.join(w.replace(root, READER_OUT, 1) if w.startswith(root + "/") else w
                      for w in words)  # fmt: skip


def _provenance_line(snapshot: dict) -> str:
    """One line per run: the command that made it, where and when (the snapshot's provenance)."""
    lines = []
    for run, p in snapshot["provenance"].items():
        parts = [f"`{as_typed(p['command'], run)}`"] if p.get("command") else []
        git = p.get("git") or {}
        if git.get("commit"):
            parts.append(
                f"commit {git['commit'][:10]}{' (modified)' if git.get('modified') else ''}"
            )
        machine = p.get("machine")
        if isinstance(machine, dict):
            machine = machine.get("cpu") or machine.get("processor")
        for value in (p.get("source"), machine, p.get("date")):
            if value:
                parts.append(str(value))
        lines.append(f"- {run}: " + "; ".join(parts))
    return (
        "The tables above come from these runs (the command gives their budget):\n\n"
        + "\n".join(lines)
    )


def summary_table(snapshots: dict[str, dict]) -> str:
    """README: one row per chapter (question, headline against the published one, verdict)."""
    rows = []
    for chap in CHAPTERS:
        measured, published, verdict = chap.headline(snapshots[chap.name]["runs"])
        rows.append(
            [chap.summary, measured, published, verdict, f"[{chap.name}](docs/{chap.name}.md)"]
        )
    return md_table(["question", "measured here", "published", "verdict", "page"], rows)


def render_blocks(snapshots: dict[str, dict]) -> dict[str, str]:
    """Every generated block, by name ``<chapter>/<table>``."""
    blocks = {"summary/chapters": summary_table(snapshots)}
    for chap in CHAPTERS:
        for table, render in chap.tables.items():
            blocks[f"{chap.name}/{table}"] = render(snapshots[chap.name])
        blocks[f"{chap.name}/provenance"] = _provenance_line(snapshots[chap.name])
    return blocks


def fill(text: str, blocks: dict[str, str], where: str = "") -> str:
    """``text`` with every marked block's body replaced; an unknown block name is an error."""

    def body(m: re.Match) -> str:
        name = m["name"]
        if name not in blocks:
            raise UsageError(f"{where}: no generated table named {name!r}")
        return m.group(1) + blocks[name] + "\n" + m.group(4)

    return BLOCK.sub(body, text)


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def regenerate(root: Path) -> dict[Path, tuple[str, str]]:
    """{file: (committed text, regenerated text)} for every doc file."""
    blocks = render_blocks(load_snapshots(root))
    out = {}
    for path in doc_files(root):
        text = path.read_text()
        out[path] = (text, fill(text, blocks, where=str(path)))
    return out


def _pick(obj, path: list[str]):
    """The part of ``obj`` named by ``path`` ("*" = every key), as a nested dict/list."""
    if not path:
        return obj
    head, rest = path[0], path[1:]
    if isinstance(obj, list):
        return [_pick(x, rest if head == "*" else path) for x in obj]
    if head == "*":
        return {k: _pick(v, rest) for k, v in obj.items()}
    return {head: _pick(obj[head], rest)} if head in obj else {}


def _merge(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return {**a, **{k: _merge(a[k], v) if k in a else v for k, v in b.items()}}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(x, y) for x, y in zip(a, b, strict=True)]
    return b


def trim(results: dict, paths: list[str]) -> dict:
    """``results`` trimmed to ``paths`` (dotted, "*" for every key at that level)."""
    out: dict = {}
    for p in paths:
        parts = key_parts(p)
        out = _merge(
            out, {parts[0]: _pick(results[parts[0]], parts[1:])} if parts[0] in results else {}
        )
    return out


def _run_results(folder: Path) -> list[dict]:
    """The results of a run folder: its results.json (or benchmark.json), or each seed's."""
    for name in ("results.json", "benchmark.json"):
        if (folder / name).is_file():
            return [_checked(folder / name)]
    seeds = sorted(folder.glob("s[0-9]*/results.json"), key=lambda p: int(p.parent.name[1:]))
    return [_checked(p) for p in seeds]


def _checked(path: Path) -> dict:
    """A run's results as a dict whose every number is finite; else one line (UsageError):
    a snapshot holds only what the docs can show."""
    try:
        tree = checks.read_results(path)
    except checks.Unreadable as e:
        raise UsageError(f"{e}; rerun that run") from None
    if (bad := checks.first_bad_number(tree)) is not None:
        raise UsageError(f"{path}: {bad}; rerun that run") from None
    return tree


def _done_provenance(runs_dir: Path, run: str) -> dict | None:
    """The provenance experiments/reproduce.py wrote beside a finished run (its first seed)."""
    for path in (run, f"{run}/s0"):
        done = runner.marker(runs_dir, path, "done")
        if done.is_file():
            return json.loads(done.read_text()).get("provenance")
    return None


# Floats of a curve (a list of more than CURVE numbers, and everything under it) are stored to
# SNAPSHOT_DIGITS significant digits: curves are most of a snapshot, and only figures read
# them. Every other float keeps its full precision, so a table's last printed digit is the
# run's own (a rounded mean can land on a decimal tie and print the other way).
SNAPSHOT_DIGITS, CURVE = 6, 20
_NUMBERS = re.compile(r"\[\s*(?:-?[0-9][-+.0-9eE]*|null)(?:,\s*(?:-?[0-9][-+.0-9eE]*|null))*\s*\]")


def _rounded(value, curve: bool = False):
    if isinstance(value, float):
        return float(f"{value:.{SNAPSHOT_DIGITS}g}") if curve else value
    if isinstance(value, dict):
        return {k: _rounded(v, curve) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, curve or len(value) > CURVE) for v in value]
    return value


def snapshot_json(snap: dict) -> str:
    """A snapshot as the JSON docs/results/ holds: a curve's floats to
    :data:`SNAPSHOT_DIGITS` significant digits, every list of numbers on one line; strict, as
    :func:`cnn_jax.results.write_json`."""
    text = json.dumps(_rounded(snap), indent=2, allow_nan=False, ensure_ascii=False)
    one_line = lambda m: "[" + ", ".join(re.split(r",\s*", m.group(0)[1:-1].strip())) + "]"  # noqa: E731
    return _NUMBERS.sub(one_line, text) + "\n"


def snapshot_from_runs(
    runs_dir: Path | None, name: str, stored: dict | None = None, full_dir: Path | None = None
) -> dict:
    """Trim every run of chapter ``name`` under ``runs_dir`` to the keys it keeps; a run named
    ``<path>@full`` is ``full_dir/<path>`` (a reproduction at --scale full). A seeded run
    keeps its first seed and, when there are more, every seed under "seeds". An optional run
    missing from its folder keeps its entry in ``stored`` (the snapshot it replaces); so does
    every run when ``runs_dir`` is None. A run of a modified working tree is refused
    (UsageError, one line): a docs number must come from a commit a reader can check out."""
    runs, prov = {}, {}
    chap = chapter(name)
    for run, paths in chap.keep.items():
        where = full_dir if run.endswith(FULL) else runs_dir
        folder = where / run.removesuffix(FULL) if where else None
        found = _run_results(folder) if folder else []
        if not found:
            keep = where is None or chap.is_optional(run)
            if keep and stored and run in stored["runs"]:
                runs[run], prov[run] = stored["runs"][run], stored["provenance"][run]
            elif not keep:
                raise UsageError(f"{folder}: no results.json; run experiments/reproduce.py")
            continue
        if (git := (found[0].get("provenance") or {}).get("git") or {}).get("modified"):
            raise UsageError(
                f"{folder}: run from a modified working tree (commit {str(git.get('commit'))[:10]}"
                "); the docs take only runs of a clean commit: commit, then rerun it"
            )
        runs[run] = trim(found[0], paths)
        if len(found) > 1:
            runs[run]["seeds"] = [trim(r, paths) for r in found]
        # The run's own provenance, else the one reproduce.py recorded in its done-marker, else
        # the folder and the machine the results name.
        prov[run] = (
            found[0].get("provenance")
            or _done_provenance(where, run.removesuffix(FULL))
            or {"source": str(folder), "machine": found[0].get("machine")}
        )
    return {"chapter": name, "provenance": prov, "runs": runs}


def draw_figures(root: Path, name: str, into: Path | None = None) -> list[Path]:
    """Redraw chapter ``name``'s figures (its ``figures`` module's ``FIGURES``) from its
    snapshot into docs/<name>/ (or into ``into``); a figure whose runs the snapshot lacks is
    left as it is. Returns the paths drawn."""
    module = chapter(name).figures
    if not module:
        return []
    from cnn_jax.plotting import drawn, plt  # matplotlib only when drawing

    runs = load_snapshots(root)[name]["runs"]
    paths = []
    for file, draw in importlib.import_module(module).FIGURES.items():
        # None: the snapshot lacks the run it draws, or a key it reads
        if (fig := drawn(draw, runs)) is None:
            continue
        path = (into or root / "docs" / name) / file
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def stale_figures(root: Path, name: str) -> list[str]:
    """The figures of chapter ``name`` in docs/<name>/ that differ from what its snapshot
    draws (a missing one included), one line each."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [
            f"docs/{name}/{path.name}: figure differs from what docs/results draws"
            for path in draw_figures(root, name, into=Path(tmp))
            if not (root / "docs" / name / path.name).is_file()
            or (root / "docs" / name / path.name).read_bytes() != path.read_bytes()
        ]


def unbacked_numbers(root: Path) -> list[str]:
    """Numbers the docs' prose quotes that no stored result or published number backs
    (:mod:`cnn_jax.report.prose`)."""
    snapshots, registry = load_snapshots(root), (root / "cnn_jax" / "published.toml").read_text()
    return [line for path in doc_files(root) for line in unbacked(path, snapshots, registry)]


def update(
    root: Path = ROOT,
    *,
    check: bool = False,
    from_runs: Path | None = None,
    from_full_runs: Path | None = None,
    only: tuple[str, ...] = NAMES,
) -> int:
    """Rewrite the docs' tables and redraw the figures of ``only`` that their chapters draw
    from the snapshots, first rebuilding the snapshots of ``only`` from ``from_runs`` and
    ``from_full_runs`` when given. ``check`` writes nothing and exits 1 when a table or a
    figure differs from what the snapshots give, or when the prose quotes a number that no
    stored result backs."""
    if unknown := sorted(set(only) - set(NAMES)):
        raise UsageError(f"--only: unknown chapter {unknown[0]!r}; choose from {','.join(NAMES)}")
    if from_runs or from_full_runs:
        stored = load_snapshots(root)
        snaps = {c: snapshot_from_runs(from_runs, c, stored[c], from_full_runs) for c in only}
        for chapter, snap in snaps.items():
            write_text(snapshot_path(root, chapter), snapshot_json(snap))
    if not check:
        for name in only:
            for path in draw_figures(root, name):
                print(f"{path.relative_to(root)}: drawn from docs/results", file=sys.stderr)
    stale = []
    for path, (old, new) in regenerate(root).items():
        if old != new:
            stale.append(path)
            if not check:
                path.write_text(new)
    verb = "differ from" if check else "rewritten from"
    for path in stale:
        print(f"{path.relative_to(root)}: tables {verb} docs/results", file=sys.stderr)
    if not check:
        return 0
    problems = [line for name in only for line in stale_figures(root, name)]
    problems += unbacked_numbers(root)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if stale or problems else 0
