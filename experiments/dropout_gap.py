"""Train-test gap of saved runs, both measured with dropout off: what dropout buys.

python experiments/dropout_gap.py runs/mnist_cnn/deep runs/mnist_cnn/deep-dropout0.5

Each run is a folder written by experiments/mnist_cnn.py. Its latest checkpoint is
evaluated in eval mode on the training images it saw and on the test set; the running
train accuracy logged during training (dropout on, weights moving) is shown beside it.
"""

from __future__ import annotations

import time
from pathlib import Path

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.training.run import evaluate_saved, evaluation_sizes, load_run

DEFAULT_RUNS = ("runs/mnist_cnn/deep", "runs/mnist_cnn/deep-dropout0.5")
DESCRIPTION = (
    "eval-mode (dropout off) accuracy and loss on each run's training images and the test "
    "set; gap = train - test accuracy; logged_* = the run's history at that epoch (train: "
    "running mean with dropout on)"
)


def build_parser() -> cli.Parser:
    description = __doc__.splitlines()[0]
    p = flags.script_parser("dropout_gap.py", description, out="runs/dropout_gap")
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN_DIR",
        default=list(DEFAULT_RUNS),
        help="Run folders written by experiments/mnist_cnn.py (default: %(default)s).",
    )
    p.add_argument(
        "--train-limit",
        type=cli.positive_int,
        help="Evaluate on the first N of each run's training images (default: all it saw).",
    )
    p.add_argument(
        "--test-limit",
        type=cli.positive_int,
        help="Evaluate on the first N test images (default: all 10,000).",
    )
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = build_parser().parse_args(argv)
    limits = {"train_limit": args.train_limit, "test_limit": args.test_limit}
    # Every checkpoint, the data and the sizes are checked before the folder is made.
    loaded = {run: load_run(run) for run in args.runs}
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    for saved in loaded.values():
        evaluation_sizes(saved, mnist, **limits)
    out = Path(args.out)
    with cli.RunFolder(out):
        print(
            f"{'run':<40} {'dropout':>7} {'epoch':>5} {'train':>7} {'test':>7} {'gap':>6} "
            f"{'logged train':>12}"
        )
        rows = {}
        for run, saved in loaded.items():
            rows[run] = row = evaluate_saved(saved, mnist, **limits)
            print(
                f"{run:<40} {row['dropout']:>7} {row['epoch']:>5} "
                f"{100 * row['train_accuracy']:>6.2f}% {100 * row['test_accuracy']:>6.2f}% "
                f"{100 * row['gap']:>5.2f} {100 * row['logged_train_accuracy']:>11.2f}%",
                flush=True,
            )
        results = {"description": DESCRIPTION, "runs": rows, "data_source": mnist.source}
        write_json(out / "results.json", results | {"provenance": provenance(started)})
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
