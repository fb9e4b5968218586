"""Rebuild the report of a reproduce output folder from the runs already there:

    python -m cnn_jax.report [runs/reproduce]

or regenerate the tables of README.md and docs/*.md from docs/results (see
:mod:`cnn_jax.report.docs`):

    python -m cnn_jax.report --docs [--check] [--from-runs runs/reproduce]

or write one interactive, self-contained chart page per chapter from docs/results:

    python -m cnn_jax.report --interactive --out runs/interactive
"""

import functools
import sys
from pathlib import Path

from cnn_jax import cli, published
from cnn_jax.errors import UsageError
from cnn_jax.report import build, checks, compare, docs, interactive, md


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="python -m cnn_jax.report",
        description="Rebuild the report (report.html, report.md) of a reproduce output folder "
        "from the runs already in it, and print its summary table.",
        epilog="python -m cnn_jax.report --docs [--check] [--from-runs FOLDER] regenerates the "
        "tables of README.md and docs/*.md instead (see its --docs --help); --interactive "
        "--out FOLDER writes the interactive chart pages.",
    )
    p.add_argument("out", nargs="?", default="runs/reproduce", help="The reproduce output folder.")
    return p


def docs_parser() -> cli.Parser:
    p = cli.Parser(prog="python -m cnn_jax.report --docs", description=docs.__doc__)
    add = p.add_argument
    add("--docs", action="store_true", help="Regenerate the tables of README.md and docs/*.md.")
    add("--check", action="store_true", help="Write nothing; exit 1 when a table differs.")
    add("--from-runs", type=Path, help="First rebuild docs/results/*.json from this folder.")
    add(
        "--from-full-runs",
        type=Path,
        help="First take the runs named <run>@full in docs/results/*.json from this folder: a "
        "reproduction at --scale full, e.g. --only cnn --seeds 5.",
    )
    add(
        "--only",
        type=lambda text: tuple(c.strip() for c in text.split(",") if c.strip()),
        default=docs.NAMES,
        help="Comma-separated chapters whose snapshots --from-runs rebuilds (default: all).",
    )
    add("--root", type=Path, default=docs.ROOT, help="The repository root.")
    return p


@functools.partial(cli.one_line_errors, compiles=False)
def update_docs(argv: list[str]) -> int:
    args = docs_parser().parse_args(argv)
    try:
        return docs.update(
            args.root,
            check=args.check,
            from_runs=args.from_runs,
            from_full_runs=args.from_full_runs,
            only=args.only,
        )
    except OSError as e:  # a read-only checkout or docs folder
        raise UsageError(f"cannot write {e.filename or args.root} ({e.strerror or e})") from None


def interactive_parser() -> cli.Parser:
    p = cli.Parser(
        prog="python -m cnn_jax.report --interactive",
        description="Write one interactive, self-contained page per chapter from the stored "
        "results (docs/results/<chapter>.json): <out>/<chapter>.html.",
    )
    p.add_argument("--interactive", action="store_true", help="Write the chart pages.")
    p.add_argument("--out", type=Path, required=True, help="Output folder.")
    p.add_argument(
        "--results",
        type=Path,
        default=interactive.SNAPSHOTS,
        help="Folder of <chapter>.json (default: docs/results).",
    )
    return p


@functools.partial(cli.one_line_errors, compiles=False)
def write_charts(argv: list[str]) -> int:
    args = interactive_parser().parse_args(argv)
    if not args.results.is_dir():
        raise UsageError(f"--results {args.results} is not a folder")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    for chapter, page in interactive.write_pages(args.out, args.results).items():
        print(f"{chapter}: {page} ({page.stat().st_size:,} bytes)")
    return 0


def main(argv: list[str]) -> int:
    if "--docs" in argv:
        return update_docs(argv)
    if "--interactive" in argv:
        return write_charts(argv)
    out = Path(build_parser().parse_args(argv).out)
    if not out.is_dir():
        sys.stderr.write(f"python -m cnn_jax.report: error: {out} is not a folder\n")
        return 2
    try:
        checks.writable(out / "report", "the report folder")
    except UsageError as e:
        sys.stderr.write(f"python -m cnn_jax.report: error: {e}\n")
        return 2
    rows = compare.rows(published.load(), out, docs.recorded())
    page = build.write_report(out, rows)
    print(md.summary_table(rows))
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
