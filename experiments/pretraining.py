"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

    python experiments/pretraining.py                 # 3 × 500 sigmoid, first 10,000 images
    python experiments/pretraining.py --full          # 3 × 1,000 on all 50,000 images
    python experiments/pretraining.py --converged --rows "random init,RBM"  # until it stalls
    python experiments/pretraining.py --preset tiny   # seconds: the tests' size
    python experiments/pretraining.py --depths 1,2,3 --hidden 200 \
        --rows "random init,RBM,denoising autoencoder"   # Erhan et al.'s depth question

Rows: random init (Nielsen's), normalized init (Glorot), RBM, autoencoder, denoising
autoencoder and supervised greedy pretraining, and ReLU + He init; every row fine-tuned by the
same SGD with the same budget, at the learning rate of --lrs best on the validation images.
Every flag but --preset (--full, --converged), --untied and the common ones is a field of
PretrainConfig; a preset (cnn_jax/studies/pretraining/config.py) sets some of them, and any of
them given on the command line wins over it. Each finished layer and row (and each
fine-tuning epoch) is saved under <out> as it finishes and a rerun of the same command
continues from there; <out>/results.json is written at the end.
"""

from __future__ import annotations

import argparse
import time

from cnn_jax import cli, flags
from cnn_jax.studies.pretraining import measure
from cnn_jax.studies.pretraining.config import PretrainConfig

PRESET_SWITCHES = ("full", "converged")  # --full: --preset full


def build_parser() -> cli.Parser:
    description = (
        "Compare random init, normalized init, RBM, autoencoder, denoising autoencoder and "
        "supervised greedy pretraining (and ReLU + He) on one deep sigmoid network: test "
        "error over seeds and ‖δˡ‖ per hidden layer at the start of fine-tuning. Writes "
        "<out>/results.json and PNG figures."
    )
    p = flags.script_parser("pretraining.py", description, PretrainConfig, out="runs/pretraining")
    flags.add_preset_flags(p, PretrainConfig, PRESET_SWITCHES)
    p.add_argument(
        "--untied",
        dest="tied",
        action="store_false",
        default=argparse.SUPPRESS,  # absent: the config's own default
        help="Give the autoencoders their own decoder weights.",
    )
    return p


def parse_config(argv: list[str] | None) -> tuple[dict, PretrainConfig]:
    """(the parsed flags, the config): a preset's fields become the flags' defaults, so a
    flag given as well wins over its preset."""
    return flags.parse_with_preset(build_parser(), PretrainConfig, argv, PRESET_SWITCHES)


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    started = time.time()
    args, config = parse_config(argv)
    mnist = cli.load_mnist(args["data_dir"], progress=not args["no_progress"])
    cli.check_count("--images", config.images, len(mnist.train_labels), "training images")
    with cli.RunFolder(args["out"]) as out:
        bars = cli.progress_bars(args["no_progress"])
        results = measure.run(mnist, config, out.path, args=args, started=started, progress=bars)
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args['out']}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
