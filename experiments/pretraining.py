"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

    python experiments/pretraining.py                 # 3 × 500 sigmoid, first 10,000 images
    python experiments/pretraining.py --full          # 3 × 1,000 on all 50,000 images
    python experiments/pretraining.py --converged --rows "random init,RBM"  # until it stalls
    python experiments/pretraining.py --depths 1,2,3 --hidden 200 \
        --rows "random init,RBM,denoising autoencoder"   # Erhan et al.'s depth question

Rows: random init (Nielsen's), normalized init (Glorot), RBM, autoencoder, denoising
autoencoder and supervised greedy pretraining, and ReLU + He init; every row fine-tuned by the
same SGD with the same budget, at the learning rate of --lrs best on the validation images.
Every flag but --full, --converged, --untied and the common ones is a field of
PretrainConfig. Each finished layer and row (and each fine-tuning epoch) is saved under <out>
as it finishes and a rerun of the same command continues from there; <out>/results.json is
written at the end.
"""

from __future__ import annotations

import argparse
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.pretraining import study as pretraining


def build_parser() -> cli.Parser:
    description = (
        "Compare random init, normalized init, RBM, autoencoder, denoising autoencoder and "
        "supervised greedy pretraining (and ReLU + He) on one deep sigmoid network: test "
        "error over seeds and ‖δˡ‖ per hidden layer at the start of fine-tuning. Writes "
        "<out>/results.json and PNG figures."
    )
    p = flags.script_parser(
        "pretraining.py", description, pretraining.PretrainConfig, out="runs/pretraining"
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="Run the published size: 3 × 1,000 hidden units on all 50,000 training images "
        "(overrides --hidden and --images).",
    )
    p.add_argument(
        "--converged",
        action="store_true",
        help="Run until validation stalls: 3 × 500 on all 50,000 training images, each row "
        "up to 30 epochs with --patience 3 (overrides --hidden, --images, --epochs and "
        "--patience); choose the rows with --rows.",
    )
    p.add_argument(
        "--untied",
        dest="tied",
        action="store_false",
        default=argparse.SUPPRESS,  # absent: the config's own default
        help="Give the autoencoders their own decoder weights.",
    )
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args = vars(build_parser().parse_args(argv))
    cli.check(not (args["full"] and args["converged"]), "--full and --converged: choose one")
    preset = pretraining.FULL_SIZE if args["full"] else {}
    preset = pretraining.CONVERGED if args["converged"] else preset
    config = flags.from_flags(pretraining.PretrainConfig, args, **preset)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    cli.check_count("--images", config.images, len(mnist.train_labels), "training images")
    with cli.RunFolder(args["out"]) as out:
        bars = cli.progress_bars(args["no_progress"])
        if config.depths:
            store = None
            results = pretraining.measure_depths(mnist, config, out.path, progress=bars)
        else:
            store = pretraining.open_rows(out.path, config)
            results = pretraining.measure(mnist, config, store, progress=bars)
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        results = {"args": args_json, **results, "provenance": provenance(started)}
        write_json(out.path / "results.json", results)
        if store is not None:
            store.finish()
        print(pretraining.format_table(results))
        pretraining.write_figures(results, out.path)
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
