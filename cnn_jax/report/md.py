"""Markdown tables of the comparison, for report.md and for the chapter pages in docs/.

table = compare.rows(published.load(), "runs/reproduce")
md.summary_table(table)                       # verdict counts per chapter
md.registry_table(table, chapter="costs")     # published vs measured, one chapter
"""

from __future__ import annotations

from pathlib import Path

from cnn_jax.report.chapters import NAMES
from cnn_jax.report.compare import MISSING, REPRODUCED, VERDICTS, Row, counts


def number(x: float | None, digits: int = 4) -> str:
    """A number in at most ``digits`` significant digits, without a trailing exponent when
    it is not needed ("98.02", "0.0657", "1.5e+06")."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    return text


def published_text(row: Row) -> str:
    e = row.entry
    if isinstance(e.value, tuple):
        text = " / ".join(number(v) for v in e.value)
    else:
        text = number(e.value)
    if e.sd is not None:
        text += f" ± {number(e.sd)}"
    return text


def measured_text(row: Row) -> str:
    if row.measured is None:
        return f"– ({row.problem})" if row.problem else "–"
    if isinstance(row.measured, tuple):
        return " / ".join(number(v) for v in row.measured)
    text = number(row.measured)
    if row.band is not None:
        text += f" [{number(row.band[0])}, {number(row.band[1])}]"
    if row.seeds > 1:
        text += f" ({row.seeds} seeds)"
    return text


def rule_text(row: Row) -> str:
    e, tol = row.entry, number(row.entry.tolerance)
    return {
        "seed_band": f"inside our seed band (near: within {tol})",
        "within": f"within ±{tol} (near: ±{number(2 * row.entry.tolerance)})",
        "at_least": f"at least the published (near: {tol} below)",
        "at_most": f"at most the published (near: {tol} above)",
        "ordering": f"same ordering (near: swapped pairs closer than {tol})",
        "exact": f"exact count (near: off by {tol})" if e.tolerance else "exact count",
        "factor": f"within a factor {tol} (near: {number(e.tolerance**2)})",
    }[e.rule]


def budget_text(row: Row) -> str:
    e = row.entry
    if row.budget_ratio is not None:
        return number(row.budget_ratio, 2)
    theirs = f"theirs {e.updates:,.0f}" if e.updates else ""
    if e.updates_note:
        theirs = f"{theirs}: {e.updates_note}" if theirs else e.updates_note
    return f"– ({theirs})" if theirs else "–"


def full_text(row: Row) -> str:
    """The entry against its recorded full-scale run (docs/results), or "–"."""
    if row.full is None:
        return "–"
    budget = f", budget {number(row.full.budget_ratio, 2)}" if row.full.budget_ratio else ""
    return f"{measured_text(row.full)}: **{row.full.label}**{budget}"


def source_text(row: Row) -> str:
    s = row.entry.source
    checked = "" if s.verified else " (not checked against the source)"
    return f"{s.authors} {s.year}, {s.where}{checked}"


HEADER = ("id", "quantity", "kind", "published", "measured", "scale", "verdict", "rule",
          "budget ratio", "recorded full scale", "source")  # fmt: skip


def scale_text(row: Row, scale: str | None = None) -> str:
    """The scale the row's run was reproduced at, flagged when it is not the report's."""
    if row.scale is None:
        return "–"
    return row.scale if scale in (None, "?", row.scale) else f"{row.scale} (not {scale})"


def other_scale(rows: list[Row], scale: str | None) -> list[Row]:
    """The rows measured by runs of another scale than ``scale`` (the last reproduction's)."""
    if scale in (None, "?"):
        return []
    return [r for r in rows if r.scale is not None and r.scale != scale]


def _cells(row: Row, scale: str | None = None) -> tuple[str, ...]:
    e = row.entry
    return (
        f"`{e.id}`",
        f"{e.quantity} ({e.unit})",
        e.kind,
        published_text(row),
        measured_text(row),
        scale_text(row, scale),
        f"**{row.label}**",
        rule_text(row) + (f"; {row.why}" if row.why else ""),
        budget_text(row),
        full_text(row),
        source_text(row),
    )


def _table(header, body) -> str:
    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, body)]) + "\n"


def registry_table(rows: list[Row], chapter: str | None = None, scale: str | None = None) -> str:
    """Published against measured, one line per entry (of ``chapter`` only, when given); a
    row measured at another scale than ``scale`` is flagged."""
    chosen = [r for r in rows if chapter is None or r.entry.chapter == chapter]
    return _table(HEADER, [_cells(r, scale) for r in chosen])


def failed_text(failed: list[tuple[str, int, str]]) -> list[str]:
    """One line per failed run: its path, exit code and the last line of its error."""
    return [f"{path}: exit {code}" + (f": {line}" if line else "") for path, code, line in failed]


def summary_table(rows: list[Row], wall_seconds: dict[str, float] | None = None) -> str:
    """Verdict counts per chapter (and in all), with each chapter's wall time if given."""
    wall_seconds = wall_seconds or {}
    chapters = chapter_order(rows, wall_seconds)
    header = ["chapter", *VERDICTS, "wall time"]
    body = []
    for name in [*chapters, None]:
        chosen = [r for r in rows if name is None or r.entry.chapter == name]
        c = counts(chosen)
        if name is None:
            wall = sum(wall_seconds.values()) if wall_seconds else None
        else:
            wall = wall_seconds.get(name)
        body.append([name or "**all**", *(c[v] for v in VERDICTS), duration(wall) if wall else "–"])
    return _table(header, body)


def chapter_order(rows: list[Row], wall_seconds: dict[str, float]) -> list[str]:
    """The chapters with rows or a wall time, in the story's order."""
    present = {r.entry.chapter for r in rows} | set(wall_seconds)
    return [name for name in NAMES if name in present]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s:02d} s" if minutes else f"{s} s"


# ----------------------------------------------------------------------------- the report


def provenance_text(prov: dict) -> str:
    """Commit (marked modified when dirty), CPU, cores, device, jax/flax, date, wall time."""
    git = prov.get("git") or {}
    machine = prov.get("machine") or {}
    versions = prov.get("versions") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (modified)" if git.get("modified") else "")
    parts = [
        f"commit {commit}",
        f"CPU {machine.get('processor', '?')}, {machine.get('cpu_count', '?')} cores",
        f"device {machine.get('backend', '?')}:{machine.get('device', '?')}",
        f"jax {versions.get('jax', '?')}, flax {versions.get('flax', '?')}",
        f"date {prov.get('date', '?')}",
    ]
    return "; ".join(parts)


def machine_text(study: dict) -> str:
    prov = study.get("provenance") or {}
    m = prov.get("machine") or {}
    v = prov.get("versions") or {}
    return (
        f"{m.get('processor', '?')}, {m.get('cpu_count', '?')} cores, "
        f"{m.get('backend', '?')} ({m.get('device', '?')}); jax {v.get('jax', '?')}, "
        f"flax {v.get('flax', '?')}"
    )


def headline(rows: list[Row], study: dict, failed: list | None = None) -> str:
    c = counts(rows)
    text = ", ".join(f"{c[v]} {v}" for v in VERDICTS if c[v] or v in (REPRODUCED, MISSING))
    runs = sum((study.get("chapter_wall_seconds") or {}).values())
    total = duration(runs) if runs else "–"
    last = duration(study["wall_seconds"]) if study.get("wall_seconds") else "–"
    scale = study.get("scale", "?")
    text = (
        f"{len(rows)} published numbers: {text}. Scale {scale}; total time of the runs "
        f"{total} (the last call of reproduce.py: {last}, finished runs skipped)."
    )
    if others := other_scale(rows, scale):
        scales = ", ".join(sorted({r.scale for r in others}))
        text += (
            f" {len(others)} of the numbers come from runs at another scale ({scales}), "
            "flagged in the tables."
        )
    if failed:
        text += f" {len(failed)} run(s) failed: see Failed runs."
    return text


def report(chapters, rows: list[Row], study: dict, failed: list | None = None) -> str:
    """report.md: the same tables as index.html. ``failed``: (run path, exit code, last
    line) of every failed run (:func:`cnn_jax.report.checks.failed_runs`)."""
    walls = {c.chapter.name: c.wall_seconds for c in chapters if c.runs}
    scale = study.get("scale")
    lines = ["# cnn_jax: the study, reproduced", "", headline(rows, study, failed), "",
             f"Machine: {machine_text(study)}.", "", summary_table(rows, walls)]  # fmt: skip
    if failed:
        lines += ["", "## Failed runs", "", *(f"- {t}" for t in failed_text(failed))]
    for info in chapters:
        chap = info.chapter
        lines += ["", f"## {chap.title}", "", chap.question, ""]
        lines += [f"- Page: [{text}]({page})" for text, page in info.links]
        for run in info.runs:
            lines += [f"![{run.path}: {Path(f).stem}]({f})" for f in run.figures]
        if info.rows:
            lines += ["", registry_table(info.rows, scale=scale)]
        lines += ["", "Provenance:", ""]
        for run in info.runs:
            status = "" if run.returncode in (0, None) else f" (exit {run.returncode})"
            lines.append(
                f"- `{run.command}`{status}: {provenance_text(run.provenance)}; "
                f"wall {duration(run.wall_seconds)}"
            )
        if not info.runs:
            lines.append("- not run")
    return "\n".join(lines) + "\n"
