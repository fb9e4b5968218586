"""The whole study in one command: plan, run every chapter, compare, write the report.

experiments/reproduce.py parses the flags and calls :func:`reproduce`; the pieces (plan
text, chapter loop, the summary) are here so that tests and other tools can call them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cnn_jax import cli, interrupt, published, results
from cnn_jax.errors import UsageError
from cnn_jax.report import build, compare, docs, md
from cnn_jax.report.chapters import CHAPTERS
from cnn_jax.report.runner import (
    STATE,
    HeldFolders,
    Job,
    is_done,
    jobs,
    prune_stale_seeds,
    run_job,
)


def plan_text(plan: list[Job], out: Path, scale: str) -> str:
    """The plan, one line per chapter with its runs and estimated minutes."""
    lines = [f"reproduce: scale {scale}, output {out}"]
    total = 0.0
    for chap in CHAPTERS:
        chosen = [j for j in plan if j.chapter == chap.name]
        if not chosen:
            continue
        todo = [j for j in chosen if not is_done(out, j)]
        estimate = sum(j.estimate_s for j in todo)
        total += estimate
        state = f"~{md.duration(estimate)}" if todo else "done earlier, skipped"
        runs = ", ".join(j.path for j in chosen)
        lines.append(f"  {chap.name:<15}{state:<24}{runs}")
    lines.append(f"  estimated total: ~{md.duration(total)}")
    return "\n".join(lines)


def run_chapters(
    plan: list[Job], out: Path, log=print, held: HeldFolders | None = None
) -> tuple[dict, list[str]]:
    """Run the plan chapter by chapter; returns (wall seconds per chapter, failed chapters).
    A failed run is one line; the other chapters still run. ``held``: the run folders this
    reproduction holds (see :class:`HeldFolders`)."""
    walls, failed = {}, []
    names = list(dict.fromkeys(j.chapter for j in plan))
    for i, name in enumerate(names, 1):
        chosen = [j for j in plan if j.chapter == name]
        log(f"[{i}/{len(names)}] {name}: {len(chosen)} run(s)")
        codes = []
        for job in chosen:
            interrupt.rows_saved(plan.index(job), len(plan), "run")  # for Ctrl-C's line
            skipped = is_done(out, job)
            code = run_job(job, out, log, held)
            codes.append(code)
            wall = _recorded_wall(out, job)
            walls[name] = walls.get(name, 0.0) + wall
            what = "done earlier, skipped" if skipped else f"{md.duration(wall)}"
            rest = plan[plan.index(job) + 1 :]
            left = sum(j.estimate_s for j in rest if not is_done(out, j))
            when = f"; the whole study: ~{md.duration(left)} left" if rest else ""
            log(f"  {job.path}: {what}" + ("" if code == 0 else f" (FAILED, exit {code})") + when)
        if any(codes):
            failed.append(name)
    return walls, failed


def _recorded_wall(out: Path, job: Job) -> float:
    try:
        done = json.loads((out / STATE / f"{job.path}.done.json").read_text())
        return float(done["wall_seconds"])
    except (OSError, ValueError, KeyError):
        return 0.0


def reproduce(out: Path, scale: str, seeds: int, chapters: tuple[str, ...]) -> int:
    """Run ``chapters`` at ``scale`` into ``out`` (locked meanwhile), compare and write the
    report; 1 when a chapter failed, else 0."""
    registry = published.load()  # a broken registry is found before any work
    with cli.RunFolder(out):
        started = time.time()
        plan = jobs(list(chapters), scale, seeds, out)
        for path in prune_stale_seeds(list(chapters), scale, seeds, out):
            print(f"removed {path}: another configuration's seed")
        if not plan:
            raise UsageError("nothing to run")
        print(plan_text(plan, out, scale), flush=True)
        held = HeldFolders(out, plan)  # no other command writes into a run folder meanwhile
        try:
            walls, failed = run_chapters(plan, out, lambda s: print(s, flush=True), held)
        finally:
            held.release()
        info = {
            "scale": scale,
            "seeds": seeds,
            "chapters": list(chapters),
            "wall_seconds": round(time.time() - started, 1),
            "chapter_wall_seconds": walls,
            "failed": failed,
            "provenance": results.provenance(started),
        }
        results.write_json(out / STATE / "reproduce.json", info)
        rows = compare.rows(registry, out, docs.recorded())
        page = build.write_report(out, rows)
        print(md.summary_table(rows, walls))
        for name in failed:
            print(f"FAILED: {name} (logs in {out / STATE})")
        print(f"report: {page}")
    return 1 if failed else 0
