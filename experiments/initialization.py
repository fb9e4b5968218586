"""Glorot & Bengio 2010's standard vs normalized init, sigmoid / tanh / softsign / ReLU.

    python experiments/initialization.py               # Table 1 at 5 × 100 units, 5 epochs
    python experiments/initialization.py --width 1000  # the paper's 5 × 1,000 units

At init: layer Jacobians' singular values, gradient variances; in training: hidden-layer
activations on 300 test images (Figures 2–3); Table 1: test error, lr picked on validation.
"""

from __future__ import annotations

import sys

from cnn_jax import cli
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies.initialization import plots
from cnn_jax.studies.initialization import study as study_lib

DEFAULTS = study_lib.Study()


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="initialization.py",
        description="Measure Glorot & Bengio 2010's standard and normalized inits on MNIST: "
        "layer Jacobians and gradient variances at init, saturation during training, and the "
        "test-error table; writes <out>/results.json and PNG figures.",
    )
    add = p.add_argument
    d = DEFAULTS
    add("--width", type=cli.positive_int, default=d.width, help="Table 1: units per layer")
    add("--hidden", type=cli.positive_int, default=d.hidden, help="Table 1: hidden layers")
    add("--epochs", type=cli.positive_int, default=d.epochs, help="Table 1: epochs")
    add("--lrs", type=cli.float_list, default=d.lrs, help="Table 1: learning rates to pick from")
    add("--batch-size", type=cli.positive_int, default=d.batch_size, help="SGD mini-batch")
    add(
        "--train-images",
        type=cli.positive_int,
        default=d.train_images,
        help="train on the first N of the 50,000 training images",
    )
    add(
        "--networks",
        type=lambda text: tuple(text.split(",")),
        default=d.networks,
        help=f"Table 1 and init rows, comma-separated, of: {', '.join(study_lib.NETWORKS)}",
    )
    add("--init-width", type=cli.positive_int, default=d.init_width, help="at init: units")
    add("--init-hidden", type=cli.positive_int, default=d.init_hidden, help="at init: layers")
    add("--init-seeds", type=cli.positive_int, default=d.init_seeds, help="at init: seeds")
    add(
        "--init-images",
        type=cli.positive_int,
        default=d.init_images,
        help="at init: the first N test images",
    )
    add(
        "--jacobian-examples",
        type=cli.positive_int,
        default=d.jacobian_examples,
        help="at init: examples per seed whose layer Jacobians are decomposed",
    )
    add("--curve-width", type=cli.positive_int, default=d.curve_width, help="curves: units")
    add("--curve-hidden", type=cli.positive_int, default=d.curve_hidden, help="curves: layers")
    add("--curve-epochs", type=cli.positive_int, default=d.curve_epochs, help="curves: epochs")
    add("--curve-lr", type=cli.positive_float, default=d.curve_lr, help="curves: learning rate")
    add(
        "--record-every",
        type=cli.positive_int,
        default=d.record_every,
        help="curves: updates between records; must divide the updates per epoch",
    )
    add(
        "--probe-images",
        type=cli.positive_int,
        default=d.probe_images,
        help="curves: the first N test images",
    )
    add(
        "--curve-networks",
        type=lambda text: tuple(text.split(",")),
        default=d.curve_networks,
        help="curves: networks, comma-separated",
    )
    add("--no-table", action="store_true", help="skip the Table 1 training")
    cli.add_common(p, out="runs/initialization")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    fields = {k: v for k, v in vars(args).items() if k in study_lib.Study.__dataclass_fields__}
    try:
        study = study_lib.Study(**fields)
    except ValueError as e:
        parser.error(str(e))
    cli.check(
        study.jacobian_examples <= study.init_images,
        f"--jacobian-examples {study.jacobian_examples} is more than --init-images "
        f"{study.init_images}",
    )
    cli.check_data_dir(args.data_dir)
    mnist = cli.load_mnist(args.data_dir, progress=not args.no_progress)
    n_train = min(50_000, len(mnist.train_labels))
    cli.check_count("--train-images", study.train_images, n_train, "training images")
    cli.check_count("--init-images", study.init_images, len(mnist.test_labels), "test images")
    cli.check_count("--probe-images", study.probe_images, len(mnist.test_labels), "test images")
    cli.check(
        len(mnist.train_labels) > 50_000 or args.no_table,
        f"Table 1 needs 60,000 training images (50,000 + 10,000 validation), got "
        f"{len(mnist.train_labels):,}; pass --no-table",
    )
    with cli.RunFolder(args.out) as out:
        results = study_lib.measure(
            mnist,
            study,
            seed=args.seed,
            progress=cli.progress_bars(args.no_progress),
            log=(lambda line: None) if args.no_progress else log,
            table=not args.no_table,
        )
        args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(args).items()}
        write_json(
            out.path / "results.json",
            {"args": args_json, **results, "versions": versions(), "machine": machine()},
        )
        print(study_lib.format_table(results))
        figures = {
            "jacobian_singular_values": plots.plot_jacobian_singular_values(
                results["init"], study_lib.PUBLISHED_JACOBIAN
            ),
            "gradients_at_init": plots.plot_gradients_at_init(results["init"]),
            "saturation_curves": plots.plot_saturation_curves(results["curves"]),
        }
        if "table" in results:
            figures["test_errors"] = plots.plot_test_errors(results["table"])
        for name, fig in figures.items():
            save_figure(fig, out.path / f"{name}.png")
    print(f"\n{results['timings']['total_s']:.1f} s in all; results and figures in {args.out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
