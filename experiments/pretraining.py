"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

    python experiments/pretraining.py                 # 3 × 500 sigmoid, first 10,000 images
    python experiments/pretraining.py --full          # 3 × 1,000 on all 60,000 images

Rows: random init (Nielsen's), normalized init (Glorot), RBM, autoencoder, denoising
autoencoder and supervised greedy pretraining, and ReLU + He init; every row fine-tuned by the
same SGD with the same budget. Every flag but --full, --untied and the common ones is a field
of PretrainConfig. Each finished layer and row is saved under <out>/rows as it finishes and a
rerun of the same command continues from there; <out>/results.json is written at the end.
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
        help="Run the published size: 3 × 1,000 hidden units on all 60,000 training images "
        "(overrides --hidden and --images).",
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
    full = pretraining.FULL_SIZE if args["full"] else {}
    config = flags.from_flags(pretraining.PretrainConfig, args, **full)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    cli.check_count("--images", config.images, len(mnist.train_labels), "training images")
    with cli.RunFolder(args["out"]) as out:
        store = pretraining.open_rows(out.path, config)
        bars = cli.progress_bars(args["no_progress"])
        results = pretraining.measure(mnist, config, store, progress=bars)
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
        results = {"args": args_json, **results, "provenance": provenance(started)}
        write_json(out.path / "results.json", results)
        store.finish()
        print(pretraining.format_table(results))
        pretraining.write_figures(results, out.path)
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
