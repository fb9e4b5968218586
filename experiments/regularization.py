"""L2 regularization against overfitting, and why it works (Nielsen, chapter 3).

    python experiments/regularization.py               # both studies, a few minutes
    python experiments/regularization.py --skip-full   # the 1,000-image study only

1. Overfitting: [784, 30, 10] sigmoid, cross-entropy, N(0, 1) init, mini-batch-10 SGD,
   η 0.5, on the first 1,000 training images for 400 epochs, λ = 0 and λ = 0.1 in one
   vmapped call; train and test curves of accuracy and cost. Checkpointed every
   --block epochs: rerunning the same command resumes.
2. The same network on the first 50,000 training images for 30 epochs, λ = 0 and 5.0.
3. The mechanism: per layer, the kernel norm and the distribution of |z| and σ'(z) on
   the test images after training, with and without L2.
4. Dropout in an MLP: [784, 100, 10], dropout 0 and 0.5 after the hidden layer, on the
   same 1,000 images (no L2), 2 seeds each: the gap between train and test accuracy.
   (The study's deep CNN with dropout is run by experiments/mnist_cnn.py, not here.)

Writes <out>/results.json and PNG figures.
"""

from __future__ import annotations

import time

import jax

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.results import machine, versions, write_json
from cnn_jax.studies.costs import regularization
from cnn_jax.training import sgd


def build_parser() -> cli.Parser:
    p = cli.Parser(prog="regularization.py", description=__doc__.split("\n")[0])
    add = p.add_argument
    add("--skip-full", action="store_true", help="skip the 50,000-image study")
    add("--overfit-images", type=cli.positive_int, default=1000)
    add("--overfit-epochs", type=cli.positive_int, default=400)
    add("--overfit-lambda", type=cli.non_negative_float, default=0.1, help="Nielsen's λ")
    add("--full-images", type=cli.positive_int, default=50_000)
    add("--full-epochs", type=cli.positive_int, default=30)
    add("--full-lambda", type=cli.non_negative_float, default=5.0, help="Nielsen's λ")
    add("--hidden", type=cli.positive_int, default=30, help="hidden units of the L2 studies")
    add(
        "--seeds",
        type=cli.positive_int,
        default=1,
        help="seeds per λ in the L2 studies, vmapped; the first is --seed's run, the "
        "others are reported as a spread",
    )
    add("--skip-dropout", action="store_true", help="skip the dropout MLP study")
    add("--dropout-hidden", type=cli.positive_int, default=100)
    add("--dropout-epochs", type=cli.positive_int, default=200)
    add("--dropout-rate", type=cli.rate, default=0.5)
    add("--dropout-seeds", type=cli.positive_int, default=2, help="seeds per rate, vmapped")
    add("--lr", type=cli.positive_float, default=0.5, help="η")
    add("--batch-size", type=cli.positive_int, default=10)
    add("--block", type=cli.positive_int, default=20, help="epochs per checkpoint")
    cli.add_common(p, out="runs/regularization", test_images=10_000)
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
    cli.check_count("--test-images", args.test_images, n_test, "test images")
    cli.check_count("--overfit-images", args.overfit_images, n_train, "training images")
    studies_run = [("overfit", args.overfit_images)]
    if not args.skip_full:
        studies_run.append(("full", args.full_images))
        cli.check_count("--full-images", args.full_images, n_train, "training images")
    for name, images in studies_run + [("dropout", args.overfit_images)]:
        cli.check(
            args.batch_size <= images,
            f"--batch-size {args.batch_size} is more than the {images} images of the {name} study",
        )
    mnist = data_lib.limit(mnist, test=args.test_images)
    start = time.perf_counter()
    overfit_key, full_key, dropout_key = jax.random.split(jax.random.key(args.seed), 3)
    with cli.RunFolder(args.out) as out:
        common = dict(
            lr=args.lr,
            batch_size=args.batch_size,
            block=args.block,
            checkpoints=out.path / "checkpoints",
            progress=cli.progress_bars(args.no_progress),
        )
        settings = {
            "overfit": (args.overfit_images, args.overfit_epochs, args.overfit_lambda, overfit_key),
            "full": (args.full_images, args.full_epochs, args.full_lambda, full_key),
        }
        studies = {
            name: regularization.l2_study(
                name,
                mnist,
                images=images,
                epochs=epochs,
                lam=lam,
                key=key,
                hidden=args.hidden,
                seeds=args.seeds,
                **common,
            )
            for name, (images, epochs, lam, key) in settings.items()
            if name != "full" or not args.skip_full
        }
        if not args.skip_dropout:
            studies["dropout"] = regularization.dropout_study(
                mnist,
                images=args.overfit_images,
                epochs=args.dropout_epochs,
                rate=args.dropout_rate,
                key=dropout_key,
                hidden=args.dropout_hidden,
                seeds=args.dropout_seeds,
                **common,
            )
        results = {
            "description": "Nielsen ch. 3 L2 regularization, [784, H, 10] sigmoid + "
            "cross-entropy, N(0, 1) init; L2 = (λ/2n)·Σ_kernels w² on the batch-mean cost "
            "(study's λ' = λ/2n); accuracies on the MNIST test set; mechanism on the test images",
            "args": vars(args),
            "studies": studies,
            "bins": {"abs_z": sgd.ABS_Z_BINS.tolist(), "slope": sgd.SLOPE_BINS.tolist()},
            "timings": {"total_s": time.perf_counter() - start},
            "versions": versions(),
            "machine": machine(),
        }
        write_json(out.path / "results.json", results)
        regularization.write_figures(studies, results["bins"], out.path)
    print(regularization.format_table(studies))
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
