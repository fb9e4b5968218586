"""The CNN chapter's figures, from its stored results: learning curves and optimizers.

python experiments/cnn_figures.py            # docs/results/cnn.json -> docs/cnn/*.png

Nothing is trained: the figures draw the numbers docs/results/cnn.json holds (the chapter's
snapshot of a reproduction, `python -m cnn_jax.report --docs --from-full-runs DIR`), so
they show what the page's tables show.
"""

from __future__ import annotations

from pathlib import Path

from cnn_jax import cli
from cnn_jax.studies.cnn import figures

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> cli.Parser:
    p = cli.Parser(prog="cnn_figures.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--results",
        type=Path,
        default=ROOT / "docs/results/cnn.json",
        help="The chapter's stored results (default: docs/results/cnn.json).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs/cnn",
        help="Folder for learning_curves.png and optimizers.png (default: docs/cnn).",
    )
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.results.is_file():
        parser.error(f"--results: {args.results} does not exist")
    figures.draw_all(args.results, args.out)
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
