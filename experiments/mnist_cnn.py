"""Train the study's MNIST CNN (or its deep variant, or an MLP) and write results.json.

python experiments/mnist_cnn.py                 # the study's CNN, 10 epochs
python experiments/mnist_cnn.py --arch deep --dropout 0.5
"""

from __future__ import annotations

import os
from pathlib import Path

from cnn_jax import cli
from cnn_jax.data import ENV_VAR, DataError
from cnn_jax.nn.losses import LOSSES
from cnn_jax.nn.models import ACTIVATIONS, INITS
from cnn_jax.training.checkpoint import CheckpointError
from cnn_jax.training.config import ARCHS, OPTIMIZERS, TrainConfig
from cnn_jax.training.run import default_out_dir, finished_results, run
from cnn_jax.training.train import ConfigMismatch


def build_parser() -> cli.Parser:
    d = TrainConfig()
    p = cli.Parser(
        prog="mnist_cnn.py",
        description="Train a network on MNIST, checkpoint every epoch, and write "
        "<out>/results.json and <out>/curves.png. Rerunning the same command resumes.",
    )
    p.add_argument(
        "--arch",
        choices=ARCHS,
        default=d.arch,
        help="seed: the study's CNN (Conv32 6x6, ReLU, Conv32 6x6, MaxPool4, "
        "Dense100 ReLU, Dense10); deep: 3 conv + pool + 3 conv + pool + 2 FC; "
        "mlp: fully connected (see --widths) (default: %(default)s)",
    )
    p.add_argument(
        "--dropout",
        type=float,
        default=d.dropout,
        help="dropout rate on the fully connected part, in [0, 1); 0 = off (default: %(default)s)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=d.epochs,
        help="passes over the training set (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help="mini-batch size (default: %(default)s)",
    )
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default: %(default)s)")
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=d.optimizer,
        help="sgd, momentum (0.9) or adam (default: %(default)s)",
    )
    p.add_argument(
        "--l2",
        type=float,
        default=d.l2,
        help="L2 coefficient λ in λ·Σw² over kernels (the study's λ·wᵀw; "
        "Nielsen's λ_N on n images is λ_N/(2n)) (default: %(default)s)",
    )
    p.add_argument(
        "--loss",
        choices=tuple(LOSSES),
        default=d.loss,
        help="cost on the logits (default: %(default)s)",
    )
    p.add_argument(
        "--widths",
        type=cli.int_list,
        default="100,10",
        help="MLP layer sizes after the 784 inputs, comma-separated, last = 10 "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--activation",
        choices=tuple(ACTIVATIONS),
        default=d.activation,
        help="MLP hidden activation (default: %(default)s)",
    )
    p.add_argument(
        "--init",
        choices=tuple(INITS),
        default=d.init,
        help="MLP weight init (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=d.seed, help="root random seed (default: %(default)s)"
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on the first N training images only (default: all 60,000)",
    )
    p.add_argument(
        "--test-limit",
        type=int,
        default=None,
        help="evaluate on the first N test images only (default: all 10,000)",
    )
    cli.add_data_dir(p)
    p.add_argument(
        "--out",
        default=None,
        help="output folder (default: runs/mnist_cnn/<arch>[-<changed flags>])",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = TrainConfig(
            arch=args.arch,
            dropout=args.dropout,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            l2=args.l2,
            loss=args.loss,
            seed=args.seed,
            limit=args.limit,
            test_limit=args.test_limit,
            mlp_widths=args.widths,
            activation=args.activation,
            init=args.init,
        )
    except ValueError as e:
        parser.error(str(e))
    data_dir = args.data_dir or os.environ.get(ENV_VAR)
    if data_dir and not Path(data_dir).is_dir():
        parser.error(f"data folder {data_dir} does not exist")
    out = Path(args.out) if args.out else default_out_dir(cfg)

    done = finished_results(out, cfg)
    if done is not None:
        print(
            f"{out} already finished {done['epochs']} epochs: test accuracy "
            f"{done['test_accuracy']:.4f}; nothing to do (results in {out / 'results.json'})"
        )
        return 0
    print(f"training {cfg.arch} for {cfg.epochs} epochs into {out}")
    try:
        results = run(cfg, out, args.data_dir, progress=not args.no_progress)
    except (DataError, ConfigMismatch) as e:
        parser.error(str(e))
    except CheckpointError as e:
        parser.error(f"cannot resume: {e}; delete it or pass another --out")
    print(
        f"test accuracy {results['test_accuracy']:.4f} after {results['epochs']} epochs; "
        f"results in {out / 'results.json'}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
