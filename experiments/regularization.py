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
4. Nielsen's own runs (cnn_jax/reference/nielsen.json) beside our seeds where the setting
   is his: best against best, final against final, the epoch of the peak
   (<out>/<study>_nielsen.png).
5. Dropout in an MLP: [784, 100, 10], dropout 0 and 0.5 after the hidden layer, on the
   same 1,000 images (no L2), 2 seeds each: the gap between train and test accuracy.
   (The study's deep CNN with dropout is run by experiments/mnist_cnn.py, not here.)

Writes <out>/results.json and PNG figures.
"""

from __future__ import annotations

import time

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.costs import regularization as R


def build_parser() -> cli.Parser:
    description = __doc__.split("\n")[0]
    return flags.script_parser(
        "regularization.py", description, R.RegularizationConfig, out="runs/regularization"
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    config = flags.from_flags(R.RegularizationConfig, args)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    config.check_data(mnist)
    mnist = data_lib.limit(mnist, test=config.test_images)
    started = time.time()
    with cli.RunFolder(args["out"]) as out:
        results = R.measure(config, mnist, out.path, cli.progress_bars(args["no_progress"]))
        write_json(out.path / "results.json", {**results, "provenance": provenance(started)})
        R.write_figures(results, out.path)
    print(R.format_table(results["studies"]))
    print(R.format_overlay(results["studies"]))
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
