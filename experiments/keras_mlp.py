"""The study's Keras-style MLP as a runnable JAX example: Dense(n, uniform) -> tanh ->
Dense(1) -> linear, MSE, SGD with learning rate 0.1, batch 32, on y = sin(πx).

    python experiments/keras_mlp.py                 # 20 hidden units, 2,000 epochs: seconds
    python experiments/keras_mlp.py --hidden 5

The study does not give its data; we fit y = sin(πx) on x ~ U(−1, 1) (256 points, drawn
from the root key) and measure the MSE on 201 evenly spaced points of [−1, 1].
Writes <out>/results.json and <out>/fit.png.
"""

from __future__ import annotations

from cnn_jax import cli
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies.costs import keras_mlp as K
from cnn_jax.studies.costs import plots


def build_parser() -> cli.Parser:
    p = cli.Parser(prog="keras_mlp.py", description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=cli.positive_int, default=20, help="tanh units")
    p.add_argument("--epochs", type=cli.positive_int, default=2000)
    p.add_argument("--points", type=cli.positive_int, default=256, help="training points")
    p.add_argument("--batch-size", type=cli.positive_int, default=32)
    p.add_argument("--lr", type=cli.positive_float, default=0.1, help="SGD learning rate")
    p.add_argument("--seed", type=cli.seed, default=0, help="root random seed")
    p.add_argument("--out", default="runs/keras_mlp", help="output folder")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli.check(
        args.batch_size <= args.points,
        f"--batch-size {args.batch_size} is more than the --points {args.points}",
    )
    with cli.RunFolder(args.out) as folder:
        results = K.experiment(
            args.seed,
            hidden=args.hidden,
            epochs=args.epochs,
            points=args.points,
            batch_size=args.batch_size,
            lr=args.lr,
        )
        results.update(args=vars(args), versions=versions(), machine=machine())
        write_json(folder.path / "results.json", results)
        save_figure(plots.plot_regression_fit(results["fit"]), folder.path / "fit.png")
    loss = results["fit"]["train_loss"]
    print(
        f"{args.hidden} tanh units, {args.epochs} epochs: train MSE after epoch 1 "
        f"{loss[0]:.4f} -> {loss[-1]:.5f}, test MSE {results['final_test_mse']:.5f} "
        f"({results['timings']['fit_s']:.1f} s); results in {args.out}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
