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

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies.costs import plots
from cnn_jax.studies.costs import study as costs


def build_parser() -> cli.Parser:
    p = cli.Parser(prog="cost_functions.py", description=__doc__.split("\n")[0])
    add = p.add_argument
    add("--no-mnist", action="store_true", help="run the single neuron only")
    add("--neuron-epochs", type=cli.positive_int, default=300)
    add("--hidden", type=cli.int_list, default=(30,), help="hidden widths, e.g. 30,100")
    add("--epochs", type=cli.positive_int, default=30)
    add("--batch-size", type=cli.positive_int, default=10)
    add(
        "--images",
        type=cli.positive_int,
        default=50_000,
        help="first N training images (Nielsen's training split)",
    )
    add("--seeds", type=cli.positive_int, default=1, help="seeds per cost, vmapped")
    cli.add_common(p, out="runs/cost_functions", test_images=10_000)
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mnist = None
    if not args.no_mnist:  # every input checked before the first computation
        mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
        cli.check_count("--images", args.images, len(mnist.train_labels), "training images")
        cli.check_count("--test-images", args.test_images, len(mnist.test_labels), "test images")
        cli.check(
            args.batch_size <= args.images,
            f"--batch-size {args.batch_size} is more than the --images {args.images}",
        )
        mnist = data_lib.limit(mnist, train=args.images, test=args.test_images)
    start = time.perf_counter()
    with cli.RunFolder(args.out) as folder:
        out = folder.path
        runs, curves = costs.neuron_study(args.neuron_epochs)
        results = {
            "description": "Nielsen ch. 3: the learning slowdown of the quadratic cost. MNIST "
            "accuracies are on the MNIST test set, after the last epoch (final) and at the "
            "best epoch (best).",
            "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
            "neuron": {"runs": runs, "grad_w_vs_output": curves},
            "mnist": {},
        }
        save_figure(plots.plot_neuron_slowdown(runs, curves), out / "neuron_slowdown.png")
        print(costs.format_neuron_table(runs))
        for hidden in args.hidden if mnist is not None else ():
            entry = costs.mnist_study(
                mnist,
                hidden,
                epochs=args.epochs,
                batch_size=args.batch_size,
                seeds=args.seeds,
                seed=args.seed,
                progress=cli.progress_bars(args.no_progress),
            )
            results["mnist"][entry["network"]] = entry
            curves_by_cost = {c: e["curves"] for c, e in entry["costs"].items()}
            fig = plots.plot_config_curves(curves_by_cost)
            save_figure(fig, out / f"mnist_{entry['network']}.png")
        if results["mnist"]:
            print(costs.format_mnist_table(results["mnist"]))
        results["timings"] = {"total_s": time.perf_counter() - start}
        results["versions"], results["machine"] = versions(), machine()
        write_json(out / "results.json", results)
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
