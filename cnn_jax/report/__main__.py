"""Rebuild the report of a reproduce output folder from the runs already there:

    python -m cnn_jax.report [runs/reproduce]

or regenerate the tables of README.md and docs/*.md from docs/results (see
:mod:`cnn_jax.report.docs`):

    python -m cnn_jax.report --docs [--check] [--from-runs runs/reproduce]
"""

import sys
from pathlib import Path

from cnn_jax import cli, published
from cnn_jax.report import build, compare, docs, md


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="python -m cnn_jax.report",
        description="Rebuild the report (report.html, report.md) of a reproduce output folder "
        "from the runs already in it, and print its summary table.",
        epilog="python -m cnn_jax.report --docs [--check] [--from-runs FOLDER] regenerates the "
        "tables of README.md and docs/*.md instead (see its --docs --help).",
    )
    p.add_argument("out", nargs="?", default="runs/reproduce", help="The reproduce output folder.")
    return p


def main(argv: list[str]) -> int:
    if "--docs" in argv:
        return cli.one_line_errors(docs.main)(argv)
    out = Path(build_parser().parse_args(argv).out)
    if not out.is_dir():
        sys.stderr.write(f"python -m cnn_jax.report: error: {out} is not a folder\n")
        return 2
    rows = compare.rows(published.load(), out)
    page = build.write_report(out, rows)
    print(md.summary_table(rows))
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
