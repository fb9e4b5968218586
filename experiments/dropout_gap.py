"""Train-test gap of saved runs, both measured with dropout off: what dropout buys.

python experiments/dropout_gap.py runs/mnist_cnn/deep runs/mnist_cnn/deep-dropout0.5

Each run is a folder written by experiments/mnist_cnn.py. Its latest checkpoint is
evaluated in eval mode on the training images it saw and on the test set; the running
train accuracy logged during training (dropout on, weights moving) is shown beside it.
"""

from __future__ import annotations

from pathlib import Path

from cnn_jax import cli
from cnn_jax.results import machine, versions, write_json
from cnn_jax.training.run import evaluate_saved, evaluation_sizes, load_run

DEFAULT_RUNS = ("runs/mnist_cnn/deep", "runs/mnist_cnn/deep-dropout0.5")


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="dropout_gap.py",
        description="Evaluate saved runs with dropout off on their training images and the "
        "test set; print train accuracy, test accuracy and the gap, and write "
        "<out>/results.json.",
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN_DIR",
        default=list(DEFAULT_RUNS),
        help="run folders written by experiments/mnist_cnn.py (default: %(default)s)",
    )
    p.add_argument(
        "--train-limit",
        type=cli.positive_int,
        default=None,
        help="evaluate on the first N of each run's training images (default: all it saw)",
    )
    p.add_argument(
        "--test-limit",
        type=cli.positive_int,
        default=None,
        help="evaluate on the first N test images (default: all 10,000)",
    )
    cli.add_common(p, out="runs/dropout_gap", seed_default=None)
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Every checkpoint, the data and the sizes are checked before the folder is made.
    loaded = {run: load_run(run) for run in args.runs}
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    for saved in loaded.values():
        evaluation_sizes(saved, mnist, args.train_limit, args.test_limit)
    out = Path(args.out)
    with cli.RunFolder(out):
        rows = {}
        print(
            f"{'run':<40} {'dropout':>7} {'epoch':>5} {'train':>7} {'test':>7} {'gap':>6} "
            f"{'logged train':>12}"
        )
        for run, saved in loaded.items():
            row = evaluate_saved(
                saved, mnist, train_limit=args.train_limit, test_limit=args.test_limit
            )
            row |= {
                "arch": saved.config.arch,
                "dropout": saved.config.dropout,
                "epoch": saved.epoch,
                "logged_train_accuracy": saved.history[-1]["train_accuracy"],
                "logged_test_accuracy": saved.history[-1]["test_accuracy"],
            }
            rows[run] = row
            print(
                f"{run:<40} {row['dropout']:>7} {row['epoch']:>5} "
                f"{100 * row['train_accuracy']:>6.2f}% {100 * row['test_accuracy']:>6.2f}% "
                f"{100 * row['gap']:>5.2f} {100 * row['logged_train_accuracy']:>11.2f}%",
                flush=True,
            )
        write_json(
            out / "results.json",
            {
                "description": "eval-mode (dropout off) accuracy and loss on each run's "
                "training images and the test set; gap = train - test accuracy; logged_* = "
                "the run's history at that epoch (train: running mean with dropout on)",
                "runs": rows,
                "data_source": mnist.source,
                "versions": versions(),
                "machine": machine(),
            },
        )
    print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
