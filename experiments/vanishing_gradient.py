"""Vanishing gradients on the first 1,000 MNIST images (``--train``: + 500 epochs).

Nielsen's chapter 5 at init (per hidden layer ‖δˡ‖ over many seeds, against his draw and
the mean-field shrink 1/√χ1), and sigmoid + MSE / sigmoid + CE / ReLU side by side, at init
and (--train) during training. Writes <out>/results.json and PNG figures.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from cnn_jax import cli
from cnn_jax.results import machine, versions, write_json
from cnn_jax.studies.vanishing import study as vanishing


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="vanishing_gradient.py",
        description="Measure per-layer gradients (Nielsen's speed of learning ‖δˡ‖) of "
        "sigmoid and ReLU networks on the first MNIST training images over many seeds, "
        "compare with Nielsen ch. 5 and the mean-field prediction, and write "
        "<out>/results.json and PNG figures.",
    )
    add = p.add_argument
    add(
        "--seeds",
        type=cli.positive_int,
        default=1000,
        help="initialisations per network, vmapped",
    )
    add(
        "--hidden",
        type=cli.int_list,
        default=(2, 3, 4),
        help="numbers of 30-unit hidden layers of Nielsen's networks, comma-separated",
    )
    add(
        "--comparison-hidden",
        type=cli.positive_int,
        default=4,
        help="hidden layers of the sigmoid + MSE / sigmoid + CE / ReLU comparison",
    )
    add(
        "--images",
        type=cli.positive_int,
        default=1000,
        help="the first N training images, as Nielsen",
    )
    add(
        "--seed-batch",
        type=cli.positive_int,
        default=None,
        help="vmap this many seeds at a time to bound memory (default: all)",
    )
    add(
        "--per-example",
        action="store_true",
        help="also measure mean_x ‖δˡ_x‖ (norm, then mean) at init; slower",
    )
    add(
        "--train",
        action="store_true",
        help="also train each network by full-batch gradient descent and record ‖δˡ‖ and accuracy "
        "every epoch (Nielsen: 500 epochs, η 0.1, λ 5.0)",
    )
    add(
        "--epochs",
        type=cli.positive_int,
        default=500,
        help="with --train: epochs",
    )
    add("--lr", type=cli.positive_float, default=0.1, help="with --train: η")
    add(
        "--lam",
        type=cli.non_negative_float,
        default=5.0,
        help="with --train: Nielsen's L2 λ; weight decay 1 − ηλ/n on n images",
    )
    add(
        "--train-seeds",
        type=cli.positive_int,
        default=1,
        help="with --train: seeds per network, vmapped; curves show the median",
    )
    add(
        "--eval-every",
        type=cli.positive_int,
        default=10,
        help="with --train: test accuracy on the 10,000 test images every N epochs; must divide "
        "--epochs",
    )
    cli.add_common(p, out="runs/vanishing_gradient")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    training = None
    if args.train:
        try:
            training = vanishing.Training(
                args.epochs, args.lr, args.lam, args.train_seeds, args.eval_every
            )
        except ValueError as e:
            parser.error(str(e))
    cli.check_data_dir(args.data_dir)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    cli.check_count("--images", args.images, len(mnist.train_labels), "training images")
    with cli.RunFolder(args.out) as out:

        def progress(items, desc):
            return tqdm(items, desc=desc, disable=args.no_progress, file=sys.stderr)

        results = vanishing.measure(
            mnist,
            seeds=args.seeds,
            hidden=args.hidden,
            comparison_hidden=args.comparison_hidden,
            images=args.images,
            seed=args.seed,
            seed_batch=args.seed_batch,
            per_example=args.per_example,
            training=training,
            progress=progress,
        )
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(args).items()}
        write_json(
            out.path / "results.json",
            {"args": args_json, **results, "versions": versions(), "machine": machine()},
        )
        print(vanishing.format_tables(results))
        vanishing.write_figures(results, out.path)
    t = results["timings"]
    print(
        f"\n{t['total_s']:.1f} s in all ({t['init_sweeps_s']:.1f} s init sweeps"
        + (f", {t['training_s']:.1f} s training" if "training_s" in t else "")
        + f"); results and figures in {args.out}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
