"""reproduce.py --scale smoke end to end: every chapter runs, every registry entry finds its
number, the report holds the same counts as the comparison."""

import json

from cnn_jax import published
from cnn_jax.report import compare, docs, md
from cnn_jax.report.chapters import CHAPTERS
from cnn_jax.report.runner import STATE


def test_every_chapter_runs(smoke):
    out, done = smoke
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("reproduce: scale smoke")
    assert any("estimated total" in line for line in lines)  # the plan comes first
    for chap in CHAPTERS:
        assert any(line.startswith("[") and f"] {chap.name}:" in line for line in lines)
        for run in chap.runs:
            path = f"{run.path}/s0" if run.seeded else run.path
            marker = json.loads((out / STATE / f"{path}.done.json").read_text())
            assert marker["returncode"] == 0 and marker["command"].startswith("python ")
            assert marker["provenance"]["machine"]["cpu_count"] >= 1
            assert (out / path / "results.json").is_file()
    assert lines[-1] == f"report: {out / 'report' / 'index.html'}"
    study = json.loads((out / STATE / "reproduce.json").read_text())
    assert study["scale"] == "smoke" and study["failed"] == []


def test_every_registry_entry_finds_its_number(smoke):
    out, _ = smoke
    for row in compare.rows(published.load(), out):
        if row.entry.run:
            assert row.verdict != compare.MISSING, (row.entry.id, row.problem)
            assert (out / row.entry.run).is_dir()
        else:
            assert row.verdict == compare.MISSING


def test_report_md_has_the_same_tables(smoke):
    out, done = smoke
    rows = compare.rows(published.load(), out, docs.recorded())
    text = (out / "report" / "report.md").read_text()
    assert md.registry_table(rows, chapter="costs") in text
    # beside the smoke rows, the recorded full-scale results of docs/results
    assert any(r.full is not None for r in rows if r.entry.chapter == "costs")
    counts = compare.counts(rows)
    headline = text.splitlines()[2]
    for verdict in ("reproduced", "near", "not reproduced"):
        assert f"{counts[verdict]} {verdict}" in headline
    # The summary printed at the end is the report's, per chapter.
    for chap in {r.entry.chapter for r in rows}:
        assert f"| {chap} |" in done.stdout
    assert "NaN" not in text and "None" not in text
    assert text.count("commit ") >= len(CHAPTERS)  # provenance under every chapter
