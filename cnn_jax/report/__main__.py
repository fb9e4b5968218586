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


def main(argv: list[str]) -> int:
    if "--docs" in argv:
        return cli.one_line_errors(docs.main)(argv)
    out = Path(argv[0] if argv else "runs/reproduce")
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
