"""Train the study's MNIST CNN (or its deep variant, or an MLP) and write results.json.

python experiments/mnist_cnn.py                 # the study's CNN, 10 epochs
python experiments/mnist_cnn.py --arch deep --dropout 0.5

Every field of TrainConfig is a flag (cnn_jax/training/config.py holds their help).
Rerunning the same command resumes from the newest intact checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from cnn_jax import cli
from cnn_jax.training import config
from cnn_jax.training.checkpoint import CheckpointError
from cnn_jax.training.run import check_data, default_out_dir, finished_results, run


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="mnist_cnn.py",
        description="Train a network on MNIST, checkpoint every epoch, and write "
        "<out>/results.json and <out>/curves.png. Rerunning the same command resumes.",
    )
    config.add_flags(p)  # one flag per TrainConfig field, --seed among them
    cli.add_data_dir(p)
    p.add_argument(
        "--out", default=None, help="output folder (default: runs/mnist_cnn/<arch>[-<changes>])"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    flags = vars(parser.parse_args(argv))
    try:
        cfg = config.from_flags(flags)
    except ValueError as e:
        parser.error(str(e))
    out = Path(flags["out"]) if flags["out"] else default_out_dir(cfg)
    mnist = cli.load_mnist(flags["data_dir"], progress=not flags["no_progress"])
    check_data(cfg, mnist)  # every input checked before the folder is made

    with cli.RunFolder(out):
        done = finished_results(out, cfg, mnist.source)
        if done is not None:
            print(
                f"{out} already finished {done['epochs']} epochs: test accuracy "
                f"{done['test_accuracy']:.4f}; nothing to do (results in {out / 'results.json'})"
            )
            return 0
        print(f"training {cfg.arch} for {cfg.epochs} epochs into {out}")
        try:
            results = run(cfg, out, mnist, progress=not flags["no_progress"])
        except CheckpointError as e:
            raise CheckpointError(
                f"cannot resume: {e}; delete {out / 'checkpoints'} or pass another --out"
            ) from None
    print(
        f"test accuracy {results['test_accuracy']:.4f} after {results['epochs']} epochs; "
        f"results in {out / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
