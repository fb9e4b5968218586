"""One test digit through every layer of a trained network: feature maps, shapes, statistics.

python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/seed --index 0
python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/deep --digit 3
python experiments/visualize_layers.py            # no checkpoint: trains the seed CNN briefly
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import numpy as np

from cnn_jax import cli
from cnn_jax.data import ENV_VAR, DataError, load_mnist, scale
from cnn_jax.inside.layers import load_checkpoint, output_activation
from cnn_jax.inside.page import ARCH_NAMES, OutputError, check_out_dir, write_visualization
from cnn_jax.training.checkpoint import CheckpointError
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import finished_results, run
from cnn_jax.training.train import build_model

# Without --checkpoint: the seed CNN, one epoch on 2,000 images (about 90 % test accuracy).
BRIEF_TRAINING = TrainConfig(arch="seed", epochs=1, batch_size=32, limit=2000, test_limit=1000)
BRIEF_RUN_NAME = "brief-seed-run"
DEFAULT_ROOT = Path("runs/visualize_layers")


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="visualize_layers.py",
        description="Pass one MNIST test image through a network trained by "
        "experiments/mnist_cnn.py and write <out>/index.html: the output of every layer "
        "(one PNG each and an overview), each layer's input and output shape, and "
        "activation statistics (mean, std, dead ReLUs, saturated sigmoids) over a batch of "
        "test images, also in <out>/results.json.",
    )
    p.add_argument(
        "--checkpoint",
        metavar="RUN_DIR",
        default=None,
        help="a run folder written by experiments/mnist_cnn.py --out RUN_DIR (default: "
        "train the seed CNN briefly first, 1 epoch on 2,000 images, into "
        f"<out's parent>/{BRIEF_RUN_NAME})",
    )
    p.add_argument(
        "--epoch",
        type=int,
        default=None,
        help="which saved epoch to load (default: the latest)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--index",
        type=cli.non_negative_int,
        default=None,
        help="test image to draw, 0-9999 (default: 0)",
    )
    which.add_argument(
        "--digit",
        type=int,
        default=None,
        help="draw the first test image with this label, 0-9",
    )
    p.add_argument(
        "--stats-images",
        type=cli.positive_int,
        default=1000,
        help="statistics over the first N test images (default: %(default)s)",
    )
    p.add_argument(
        "--per-map-scale",
        action="store_true",
        help="stretch every feature map to its own colour range "
        "(default: one colour scale shared by all maps of a layer)",
    )
    cli.add_data_dir(p)
    p.add_argument(
        "--out",
        default=None,
        help=f"output folder (default: {DEFAULT_ROOT}/<run name>-epoch<E>-index<N>)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar when training")
    return p


def pick_index(parser: cli.Parser, args, labels: np.ndarray) -> int:
    """The test image to draw: --index, the first image of --digit, or 0."""
    if args.digit is not None:
        if not np.any(labels == args.digit):
            parser.error(f"no test image has the label {args.digit}")
        return int(np.argmax(labels == args.digit))
    index = 0 if args.index is None else args.index
    if index >= labels.shape[0]:
        parser.error(
            f"--index {index} is out of range: the test set has {labels.shape[0]:,} "
            f"images (0-{labels.shape[0] - 1})"
        )
    return index


def train_briefly(parser: cli.Parser, args) -> tuple[Path, str]:
    """Train BRIEF_TRAINING (or reuse it) beside the output; (run folder, what to say)."""
    parent = Path(args.out).parent if args.out else DEFAULT_ROOT
    run_dir = parent / BRIEF_RUN_NAME
    cfg = BRIEF_TRAINING
    what = f"{ARCH_NAMES[cfg.arch]} ({cfg.epochs} epoch on the first {cfg.limit:,} training images)"
    if finished_results(run_dir, cfg) is None:
        print(f"no --checkpoint: training {what} briefly first, into {run_dir}")
        try:
            run(cfg, run_dir, args.data_dir, progress=not args.no_progress)
        except DataError as e:
            parser.error(str(e))
    else:
        print(f"no --checkpoint: using the brief run of {what} already in {run_dir}")
    note = (
        f"no --checkpoint was given, so {what} was trained briefly first, into {run_dir}. "
        "Train a full run with experiments/mnist_cnn.py and pass --checkpoint RUN_DIR."
    )
    return run_dir, note


def load(parser: cli.Parser, run_dir: Path, epoch: int | None):
    try:
        return load_checkpoint(run_dir, epoch)
    except CheckpointError as e:
        parser.error(str(e))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.digit is not None and not 0 <= args.digit <= 9:
        parser.error(f"--digit must be a digit 0-9, got {args.digit}")
    data_dir = args.data_dir or os.environ.get(ENV_VAR)
    if data_dir and not Path(data_dir).is_dir():
        parser.error(f"data folder {data_dir} does not exist")
    try:
        if args.out:
            check_out_dir(args.out)
    except OutputError as e:
        parser.error(str(e))
    # A bad checkpoint is reported before the data is read.
    loaded = load(parser, Path(args.checkpoint), args.epoch) if args.checkpoint else None
    try:
        mnist = load_mnist(args.data_dir)
    except DataError as e:
        parser.error(str(e))
    labels = mnist.test_labels
    index = pick_index(parser, args, labels)

    trained_here = None
    if loaded is None:
        run_dir, trained_here = train_briefly(parser, args)
        loaded = load(parser, run_dir, args.epoch)
    else:
        run_dir = Path(args.checkpoint)
    out = (
        Path(args.out)
        if args.out
        else DEFAULT_ROOT / f"{run_dir.resolve().name}-epoch{loaded.epoch}-index{index}"
    )
    try:
        check_out_dir(out)
    except OutputError as e:
        parser.error(str(e))
    cfg = loaded.config
    source = {
        "checkpoint": str(run_dir),
        "epoch": loaded.epoch,
        "arch": cfg.arch,
        "test_accuracy": loaded.test_accuracy,
        "trained_here": trained_here,
        "config": cfg.to_dict(),
    }
    results = write_visualization(
        out,
        model=build_model(cfg),
        params=loaded.params,
        images=scale(mnist.test_images),
        labels=labels,
        index=index,
        source=source,
        output=output_activation(cfg.loss),
        stats_images=args.stats_images,
        per_map_scale=args.per_map_scale,
        command="python experiments/visualize_layers.py " + shlex.join(argv),
    )
    image = results["image"]
    print(
        f"test image {index} (label {image['label']}, predicted {image['predicted']}) through "
        f"{cfg.arch} at epoch {loaded.epoch}: {len(results['layers'])} layers; "
        f"page {out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
