"""One test digit through every layer of a trained network: feature maps, shapes, statistics;
or, with --interactive, a page that runs the seed CNN in the browser on a digit you draw.

python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/seed --index 0
python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/deep --digit 3
python experiments/visualize_layers.py --checkpoint runs/mnist_cnn/seed --interactive
python experiments/visualize_layers.py            # no checkpoint: trains the seed CNN briefly
"""

from __future__ import annotations

import shlex
import sys
import time

from cnn_jax import cli, flags
from cnn_jax.inside import draw as draw_page
from cnn_jax.inside import network as N
from cnn_jax.inside.page import Drawing, check_out_dir
from cnn_jax.training.run import load_run


def build_parser() -> cli.Parser:
    description = (
        "Pass one MNIST test image through a network trained by experiments/mnist_cnn.py and "
        "write <out>/index.html: the output of every layer (one PNG each and an overview), "
        "each layer's input and output shape, and activation statistics (mean, std, dead "
        "ReLUs, saturated sigmoids) over a batch of test images, also in <out>/results.json. "
        "With --interactive, write <out>/draw.html instead: one self-contained page (weights "
        "and 50 test digits inside, no network request) where you draw a digit and watch the "
        "seed CNN's every layer, computed in the page."
    )
    return flags.script_parser("visualize_layers.py", description, N.VisualizeConfig, out=None)


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    argv, started = sys.argv[1:] if argv is None else argv, time.time()
    args = vars(build_parser().parse_args(argv))
    config, progress = flags.from_flags(N.VisualizeConfig, args), not args["no_progress"]
    check_out = draw_page.check_out_dir if config.interactive else check_out_dir
    # Every input is checked, and a given checkpoint read, before anything is written.
    if args["out"]:
        check_out(args["out"])
    saved = load_run(config.checkpoint, config.epoch) if config.checkpoint else None
    if saved is not None and config.interactive:
        draw_page.check_arch(saved.config.arch)
    mnist = cli.load_mnist(args["data_dir"], progress=progress)
    cli.check_count("--stats-images", config.stats_images, len(mnist.test_labels), "test images")
    index = N.pick_index(mnist.test_labels, index=config.index, digit=config.digit)
    run_dir, out = N.folders(args["out"], config, saved, index)
    check_out(out)
    command = "python experiments/visualize_layers.py " + shlex.join(argv)
    with cli.RunFolder(out):
        note = None
        if saved is None:
            saved, note = N.brief_run(run_dir, mnist, epoch=config.epoch, progress=progress)
        if config.interactive:
            results = draw_page.write_draw_page(
                out,
                params=saved.params,
                loss=saved.config.loss,
                test_images=mnist.test_images,
                test_labels=mnist.test_labels,
                source=N.describe_source(saved, run_dir, note),
                command=command,
                started=started,
            )
            print(
                f"the seed CNN at epoch {saved.epoch}, {len(results['sample_indices'])} test "
                f"digits: page {out / draw_page.PAGE} ({results['page_bytes']:,} bytes)"
            )
            return 0
        drawing = Drawing(
            index, config.stats_images, config.per_map_scale, command=command, started=started
        )
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
