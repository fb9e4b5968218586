"""One test digit through every layer of a trained network: feature maps, shapes, statistics.

python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/seed --index 0
python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/deep --digit 3
python experiments/visualize_layers.py            # no checkpoint: trains the seed CNN briefly
"""

from __future__ import annotations

import shlex
import sys
import time

from cnn_jax import cli, flags
from cnn_jax.inside import network as N
from cnn_jax.inside.page import Drawing, check_out_dir
from cnn_jax.training.run import load_run


def build_parser() -> cli.Parser:
    description = (
        "Pass one MNIST test image through a network trained by experiments/mnist_cnn.py and "
        "write <out>/index.html: the output of every layer (one PNG each and an overview), "
        "each layer's input and output shape, and activation statistics (mean, std, dead "
        "ReLUs, saturated sigmoids) over a batch of test images, also in <out>/results.json."
    )
    return flags.script_parser("visualize_layers.py", description, N.VisualizeConfig, out=None)


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    argv, started = sys.argv[1:] if argv is None else argv, time.time()
    args = vars(build_parser().parse_args(argv))
    config, progress = flags.from_flags(N.VisualizeConfig, args), not args["no_progress"]
    # Every input is checked, and a given checkpoint read, before anything is written.
    if args["out"]:
        check_out_dir(args["out"])
    saved = load_run(config.checkpoint, config.epoch) if config.checkpoint else None
    mnist = cli.load_mnist(args["data_dir"], progress=progress)
    cli.check_count("--stats-images", config.stats_images, len(mnist.test_labels), "test images")
    index = N.pick_index(mnist.test_labels, index=config.index, digit=config.digit)
    run_dir, out = N.folders(args["out"], config, saved, index)
    check_out_dir(out)
    command = "python experiments/visualize_layers.py " + shlex.join(argv)
    drawing = Drawing(
        index, config.stats_images, config.per_map_scale, command=command, started=started
    )
    with cli.RunFolder(out):
        note = None
        if saved is None:
            saved, note = N.brief_run(run_dir, mnist, epoch=config.epoch, progress=progress)
        results = N.draw(out, saved, run_dir, mnist, drawing, trained_here=note)
    image = results["image"]
    print(
        f"test image {index} (label {image['label']}, predicted {image['predicted']}) through "
        f"{saved.config.arch} at epoch {saved.epoch}: {len(results['layers'])} layers; "
        f"page {out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
