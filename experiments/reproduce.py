"""The whole study in one command: every chapter in the story's order, each of its scripts in
its own process, then the published numbers against ours in <out>/report/.

    python experiments/reproduce.py --scale smoke         # every chapter at test size
    python experiments/reproduce.py                       # the defaults, reduced to ~20 minutes
    python experiments/reproduce.py --scale full --seeds 3 --only cnn

Rerunning the same command skips finished runs and resumes interrupted ones through their
checkpoints. Chapters, scales and the reasons for each reduction: each chapter's declaration,
listed in cnn_jax/report/chapters.py (e.g. cnn_jax/studies/depth/chapter.py).
"""

import argparse
from pathlib import Path

from cnn_jax import cli
from cnn_jax.report.chapters import NAMES, SCALES
from cnn_jax.report.reproduce import reproduce


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
        raise argparse.ArgumentTypeError(
            f"unknown chapter {unknown[0] if unknown else text!r}; choose from {','.join(NAMES)}"
        )
    return names


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return reproduce(Path(args.out).resolve(), args.scale, args.seeds, args.only)


if __name__ == "__main__":
    cli.exit_with(main)
