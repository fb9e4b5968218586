"""Vanishing gradients on the first 1,000 MNIST images (``--train``: + 500 epochs).

Nielsen's chapter 5 at init (per hidden layer ‖δˡ‖ over many seeds, against his draw and
the mean-field shrink 1/√χ1), and sigmoid + MSE / sigmoid + CE / ReLU side by side, at init
and (--train) during training. Writes <out>/results.json and PNG figures.
"""

from __future__ import annotations

import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.vanishing import study as vanishing


def build_parser() -> cli.Parser:
    configs = (vanishing.Sweep, vanishing.Training)
    description = __doc__.split("\n")[0]
    p = flags.script_parser(
        "vanishing_gradient.py", description, *configs, out="runs/vanishing_gradient"
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="also train each network by full-batch gradient descent and record ‖δˡ‖ and "
        "accuracy every epoch (Nielsen: 500 epochs, η 0.1, λ 5.0), for --train-seeds seeds, "
        "with Nielsen's recorded curves placed in their band",
    )
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    sweep = flags.from_flags(vanishing.Sweep, args)
    training = flags.from_flags(vanishing.Training, args) if args["train"] else None
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    sweep.check_data(mnist)
    started = time.time()
    with cli.RunFolder(args["out"]) as out:
        results = vanishing.measure(mnist, sweep, training, cli.progress_bars(args["no_progress"]))
        write_json(out.path / "results.json", {**results, "provenance": provenance(started)})
        print(vanishing.format_tables(results))
        vanishing.write_figures(results, out.path)
    t = results["timings"]
    print(
        f"\n{t['total_s']:.1f} s in all ({t['init_sweeps_s']:.1f} s init sweeps"
        + (f", {t['training_s']:.1f} s training" if "training_s" in t else "")
        + f"); results and figures in {args['out']}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
