"""Rebuild the report of a reproduce output folder from the runs already there:

python -m cnn_jax.report [runs/reproduce]
"""

import sys
from pathlib import Path

from cnn_jax import published
from cnn_jax.report import build, compare, md


def main(argv: list[str]) -> int:
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
