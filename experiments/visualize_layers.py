"""One test digit through every layer of a trained network: feature maps, shapes, statistics.

python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/seed --index 0
python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/deep --digit 3
python experiments/visualize_layers.py            # no checkpoint: trains the seed CNN briefly
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from cnn_jax import cli
from cnn_jax.inside.network import BRIEF_RUN_NAME, BRIEF_TRAINING, brief_run, draw, pick_index
from cnn_jax.inside.page import check_out_dir
from cnn_jax.training.run import load_run

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
        type=cli.positive_int,
        default=None,
        help="which saved epoch to load (default: the latest)",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--index", type=cli.non_negative_int, help="test image to draw, 0-9999 (default: 0)"
    )
    which.add_argument("--digit", type=int, help="draw the first test image with this label, 0-9")
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
    cli.add_common(p, out=None, seed_default=None)
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    progress = not args.no_progress
    # Every input is checked, and a given checkpoint read, before anything is written.
    if args.out:
        check_out_dir(args.out)
    saved = load_run(args.checkpoint, args.epoch) if args.checkpoint else None
    mnist = cli.load_mnist(args.data_dir, progress=progress)
    cli.check_count("--stats-images", args.stats_images, len(mnist.test_labels), "test images")
    index = pick_index(mnist.test_labels, index=args.index, digit=args.digit)
    if saved is None:
        run_dir = (Path(args.out).parent if args.out else DEFAULT_ROOT) / BRIEF_RUN_NAME
        epoch = args.epoch or BRIEF_TRAINING.epochs
    else:
        run_dir, epoch = Path(args.checkpoint), saved.epoch
    out = Path(args.out or DEFAULT_ROOT / f"{run_dir.resolve().name}-epoch{epoch}-index{index}")
    check_out_dir(out)

    with cli.RunFolder(out):
        note = None
        if saved is None:
            saved, note = brief_run(run_dir, mnist, epoch=args.epoch, progress=progress)
        results = draw(
            out,
            saved,
            run_dir,
            mnist,
            index=index,
            trained_here=note,
            stats_images=args.stats_images,
            per_map_scale=args.per_map_scale,
            command="python experiments/visualize_layers.py " + shlex.join(argv),
        )
    image = results["image"]
    print(
        f"test image {index} (label {image['label']}, predicted {image['predicted']}) through "
        f"{saved.config.arch} at epoch {saved.epoch}: {len(results['layers'])} layers; "
        f"page {out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
