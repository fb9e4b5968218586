"""Write the report folder: <out>/report/index.html, report.md, and the figures and pages they
show, copied in so that the folder opens from file:// on its own.

    python -m cnn_jax.report runs/reproduce        # rebuild it from the runs already there
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cnn_jax import results
from cnn_jax.chapter import Chapter, Run
from cnn_jax.report import checks, html, md
from cnn_jax.report.chapters import CHAPTERS
from cnn_jax.report.compare import Row
from cnn_jax.report.runner import STATE

SKIP = {".lock", "checkpoints"}  # never copied: locks and Orbax checkpoints
SKIP_SUFFIXES = {".npz", ".tmp"}


@dataclass
class RunInfo:
    """One run of a chapter as the report shows it."""

    path: str
    command: str = ""
    returncode: int | None = None
    wall_seconds: float | None = None
    provenance: dict = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)  # relative to the report folder
    page: str | None = None  # the run's own HTML page, relative to the report folder
    page_text: str = ""  # the link text of that page


@dataclass
class ChapterInfo:
    chapter: Chapter
    rows: list[Row]
    runs: list[RunInfo]
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, page) to other pages

    @property
    def wall_seconds(self) -> float:
        return sum(r.wall_seconds or 0.0 for r in self.runs)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _run_folders(out: Path, chapter: Chapter) -> list[tuple[Run, str]]:
    """The runs of a chapter present under ``out``, with their paths (seeded runs: each
    seed)."""
    found = []
    for run in chapter.runs:
        seeds = sorted((out / run.path).glob("s[0-9]*"), key=lambda p: int(p.name[1:]))
        if run.seeded and seeds:
            found += [(run, f"{run.path}/{s.name}") for s in seeds if s.is_dir()]
        elif (out / run.path).is_dir():
            found.append((run, run.path))
    return found


def _copy_figures(src: Path, dest: Path, report: Path) -> list[str]:
    copied = []
    for png in sorted(src.glob("*.png")):
        target = dest / png.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
        copied.append(target.relative_to(report).as_posix())
    return copied


def _copy_page(src: Path, dest: Path) -> None:
    """A run's HTML page with what it shows (not its checkpoints or arrays)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(
        src,
        dest,
        ignore=lambda _, names: [
            n for n in names if n in SKIP or Path(n).suffix in SKIP_SUFFIXES or n.startswith(".")
        ],
    )


def run_info(out: Path, report: Path, run: Run, path: str) -> RunInfo:
    done = _read(out / STATE / f"{path}.done.json")
    own = _read(out / path / "results.json").get("provenance", {})
    info = RunInfo(
        path,
        command=done.get("command") or own.get("command", ""),
        returncode=done.get("returncode"),
        wall_seconds=done.get("wall_seconds") or own.get("wall_seconds"),
        provenance=done.get("provenance") or own,
    )
    if run.page and (out / path / "index.html").is_file():
        _copy_page(out / path, report / "pages" / path)
        info.page, info.page_text = f"pages/{path}/index.html", run.page
        info.figures = [f"pages/{path}/{p.name}" for p in sorted((out / path).glob("*.png"))[:2]]
    else:
        info.figures = _copy_figures(out / path, report / "figures" / path, report)
    return info


def collect(out: Path, rows: list[Row], report: Path) -> list[ChapterInfo]:
    """Per chapter, in the story's order: its rows, its runs, their figures and provenance,
    and links to its runs' pages and to those of the runs it names in ``links_to``."""
    chapters = [
        ChapterInfo(
            chap,
            [r for r in rows if r.entry.chapter == chap.name],
            [run_info(out, report, run, p) for run, p in _run_folders(out, chap)],
        )
        for chap in CHAPTERS
    ]
    pages = [r for c in chapters for r in c.runs if r.page]
    for info in chapters:
        linked = [r for r in pages if r in info.runs or r.path in info.chapter.links_to]
        info.links = [(f"{r.page_text} ({r.path})", r.page) for r in linked]
    return chapters


def write_report(out: str | Path, rows: list[Row]) -> Path:
    """Write <out>/report/ (index.html, report.md, figures/, pages/); returns the page."""
    out = Path(out)
    report = out / "report"
    shutil.rmtree(report / "figures", ignore_errors=True)
    report.mkdir(parents=True, exist_ok=True)
    chapters = collect(out, rows, report)
    study = _read(out / STATE / "reproduce.json")
    failed = checks.failed_runs(out)
    results.write_text(report / "report.md", md.report(chapters, rows, study, failed))
    results.write_text(report / "index.html", html.report(chapters, rows, study, failed))
    return report / "index.html"
