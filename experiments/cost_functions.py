"""Quadratic cost against cross-entropy: the learning slowdown (Nielsen, chapter 3).

    python experiments/cost_functions.py                 # neuron + MNIST [784,30,10]
    python experiments/cost_functions.py --no-mnist      # the single neuron only: seconds
    python experiments/cost_functions.py --hidden 30,100 # also Nielsen's 100 hidden units

1. One sigmoid neuron, input 1, target 0, from (w, b) = (0.6, 0.9) and (2, 2): 300
   epochs of gradient descent, quadratic (η 0.15) and cross-entropy (η 0.005).
2. MNIST [784, H, 10] sigmoid, N(0, 1) init, 30 epochs of mini-batch-10 SGD on the
   first 50,000 training images: cross-entropy (η 0.5) and quadratic (η 3.0), both in one
   vmapped call; accuracy on the 10,000-image MNIST test set.

Writes <out>/results.json and PNG figures, and prints a table.
"""

from __future__ import annotations

import time

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.costs import study as costs


def build_parser() -> cli.Parser:
    description = __doc__.split("\n")[0]
    return flags.script_parser(
        "cost_functions.py", description, costs.CostConfig, out="runs/cost_functions"
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    config = flags.from_flags(costs.CostConfig, args)
    mnist = None
    if config.mnist:  # every input checked before the first computation
        mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
        config.check_data(mnist)
        mnist = data_lib.limit(mnist, train=config.images, test=config.test_images)
    started = time.time()
    with cli.RunFolder(args["out"]) as folder:
        results = costs.measure(config, mnist, cli.progress_bars(args["no_progress"]))
        write_json(folder.path / "results.json", {**results, "provenance": provenance(started)})
        costs.write_figures(results, folder.path)
    print(costs.format_tables(results))
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
