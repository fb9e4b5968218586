"""The whole study in one command: plan, run every chapter, compare, write the report.

``main(argv)`` is experiments/reproduce.py's; the pieces (plan text, chapter loop, the
summary) are here so that tests and other tools can call them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from cnn_jax import cli, published, results
from cnn_jax.errors import UsageError
from cnn_jax.report import build, compare, md
from cnn_jax.report.chapters import CHAPTERS, NAMES, SCALES
from cnn_jax.report.runner import STATE, Job, is_done, jobs, prune_stale_seeds, run_job


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="reproduce.py",
        description="Run every chapter of the study (each script in its own process, resuming "
        "through its checkpoints), compare with the published numbers and write "
        "<out>/report/index.html and report.md.",
    )
    add = p.add_argument
    scales = (
        "smoke: every chapter at test size; default: each script's defaults, reduced where "
        "the whole study would pass 20 minutes on 2 cores; full: the published sizes"
    )
    add("--scale", choices=SCALES, default="default", help=scales)
    add(
        "--seeds",
        type=cli.positive_int,
        default=1,
        help="seeds of each CNN, for their spread (runs cnn/<net>/s0, s1, ...)",
    )
    add(
        "--only",
        type=_chapters,
        default=NAMES,
        help=f"comma-separated chapters to run, of: {','.join(NAMES)}",
    )
    add("--out", default="runs/reproduce", help="output folder")
    return p


def _chapters(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in NAMES]
    if unknown or not names:
        raise cli.argparse.ArgumentTypeError(
            f"unknown chapter {unknown[0] if unknown else text!r}; choose from {','.join(NAMES)}"
        )
    return names


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


def run_chapters(plan: list[Job], out: Path, log=print) -> tuple[dict, list[str]]:
    """Run the plan chapter by chapter; returns (wall seconds per chapter, failed chapters).
    A failed run is one line; the other chapters still run."""
    walls, failed = {}, []
    names = list(dict.fromkeys(j.chapter for j in plan))
    for i, name in enumerate(names, 1):
        chosen = [j for j in plan if j.chapter == name]
        log(f"[{i}/{len(names)}] {name}: {len(chosen)} run(s)")
        codes = []
        for job in chosen:
            skipped = is_done(out, job)
            code = run_job(job, out, log)
            codes.append(code)
            wall = _recorded_wall(out, job)
            walls[name] = walls.get(name, 0.0) + wall
            what = "done earlier, skipped" if skipped else f"{md.duration(wall)}"
            log(f"  {job.path}: {what}" + ("" if code == 0 else f" (FAILED, exit {code})"))
        if any(codes):
            failed.append(name)
    return walls, failed


def _recorded_wall(out: Path, job: Job) -> float:
    try:
        done = json.loads((out / STATE / f"{job.path}.done.json").read_text())
        return float(done["wall_seconds"])
    except (OSError, ValueError, KeyError):
        return 0.0


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out).resolve()
    registry = published.load()  # a broken registry is found before any work
    with cli.RunFolder(out):
        started = time.time()
        plan = jobs(list(args.only), args.scale, args.seeds, out)
        for path in prune_stale_seeds(list(args.only), args.scale, args.seeds, out):
            print(f"removed {path}: another configuration's seed")
        if not plan:
            raise UsageError("nothing to run")
        print(plan_text(plan, out, args.scale), flush=True)
        walls, failed = run_chapters(plan, out, log=lambda s: print(s, flush=True))
        info = {
            "scale": args.scale,
            "seeds": args.seeds,
            "chapters": list(args.only),
            "wall_seconds": round(time.time() - started, 1),
            "chapter_wall_seconds": walls,
            "failed": failed,
            "provenance": results.provenance(started),
        }
        results.write_json(out / STATE / "reproduce.json", info)
        rows = compare.rows(registry, out)
        page = build.write_report(out, rows)
        print(md.summary_table(rows, walls))
        for name in failed:
            print(f"FAILED: {name} (logs in {out / STATE})")
        print(f"report: {page}")
    return 1 if failed else 0
