"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

    python experiments/pretraining.py                 # 3 × 500 sigmoid, first 10,000 images
    python experiments/pretraining.py --full          # 3 × 1,000 on all 60,000 images

Rows: random init (Nielsen's), normalized init (Glorot), RBM, autoencoder, denoising
autoencoder and supervised greedy pretraining, and ReLU + He init; every row fine-tuned by the
same SGD with the same budget. Writes <out>/results.json and PNG figures, prints the table.
"""

from __future__ import annotations

from cnn_jax import cli
from cnn_jax.results import machine, versions, write_json
from cnn_jax.studies.pretraining import study as pretraining

DEFAULT = pretraining.PretrainConfig()


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="pretraining.py",
        description="Compare random init, normalized init, RBM, autoencoder, denoising "
        "autoencoder and supervised greedy pretraining (and ReLU + He) on one deep sigmoid "
        "network: test error over seeds and ‖δˡ‖ per hidden layer at the start of "
        "fine-tuning. Writes <out>/results.json and PNG figures.",
    )
    add = p.add_argument
    add("--hidden", type=cli.int_list, default=DEFAULT.hidden, help="hidden layer widths")
    add(
        "--images",
        type=cli.positive_int,
        default=DEFAULT.images,
        help="the first N training images",
    )
    add(
        "--full",
        action="store_true",
        help="the published size: 3 × 1,000 hidden units on all 60,000 training images "
        "(overrides --hidden and --images)",
    )
    add("--seeds", type=cli.positive_int, default=DEFAULT.seeds, help="seeds per row, vmapped")
    add("--epochs", type=cli.positive_int, default=DEFAULT.epochs, help="fine-tuning epochs")
    add("--lr", type=cli.positive_float, default=DEFAULT.lr, help="fine-tuning η")
    add("--batch-size", type=cli.positive_int, default=DEFAULT.batch_size, help="mini-batch")
    add(
        "--pretrain-epochs",
        type=cli.positive_int,
        default=DEFAULT.pretrain_epochs,
        help="pretraining epochs per layer",
    )
    add("--rbm-lr", type=cli.positive_float, default=DEFAULT.rbm_lr, help="RBM learning rate")
    add("--cd-k", type=cli.positive_int, default=DEFAULT.cd_k, help="Gibbs steps of CD-k")
    add("--ae-lr", type=cli.positive_float, default=DEFAULT.ae_lr, help="autoencoder η")
    add(
        "--corruption",
        type=cli.rate,
        default=DEFAULT.corruption,
        help="masking noise of the denoising autoencoder",
    )
    add("--untied", action="store_true", help="autoencoders with their own decoder weights")
    add(
        "--supervised-lr",
        type=cli.positive_float,
        default=DEFAULT.supervised_lr,
        help="η of supervised greedy pretraining",
    )
    add(
        "--grad-images",
        type=cli.positive_int,
        default=DEFAULT.grad_images,
        help="‖δˡ‖ at the start of fine-tuning on the first N training images",
    )
    add(
        "--filters",
        type=cli.positive_int,
        default=DEFAULT.filters,
        help="first-layer filters to draw",
    )
    cli.add_common(p, out="runs/pretraining")
    return p


def config_from_flags(flags: dict) -> pretraining.PretrainConfig:
    """The flags (``vars(args)``) as the study's config; ``--full`` sets the published size."""
    hidden, images = flags["hidden"], flags["images"]
    if flags["full"]:
        hidden, images = (1000, 1000, 1000), None
    return pretraining.PretrainConfig(
        hidden=hidden,
        images=images,
        seeds=flags["seeds"],
        epochs=flags["epochs"],
        lr=flags["lr"],
        batch_size=flags["batch_size"],
        pretrain_epochs=flags["pretrain_epochs"],
        rbm_lr=flags["rbm_lr"],
        cd_k=flags["cd_k"],
        ae_lr=flags["ae_lr"],
        corruption=flags["corruption"],
        tied=not flags["untied"],
        supervised_lr=flags["supervised_lr"],
        grad_images=flags["grad_images"],
        filters=flags["filters"],
        seed=flags["seed"],
    )


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    flags = vars(args)
    try:
        config = config_from_flags(flags)
    except ValueError as e:
        parser.error(str(e))
    cli.check(args.seeds >= 2, f"--seeds {args.seeds}: need at least 2 for a spread")
    cli.check(
        args.filters <= min(config.hidden),
        f"--filters {args.filters} is more than the {min(config.hidden)} first-layer units",
    )
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    n_train = len(mnist.train_labels)
    cli.check_count("--images", config.images, n_train, "training images")
    cli.check(
        config.batch_size <= (config.images or n_train),
        f"--batch-size {config.batch_size} is more than the {config.images or n_train} images",
    )
    with cli.RunFolder(args.out) as out:
        results = pretraining.measure(mnist, config, progress=cli.progress_bars(args.no_progress))
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in flags.items()}
        write_json(
            out.path / "results.json",
            {"args": args_json, **results, "versions": versions(), "machine": machine()},
        )
        print(pretraining.format_table(results))
        pretraining.write_figures(results, out.path)
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
