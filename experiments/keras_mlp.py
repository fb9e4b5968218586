"""The study's Keras-style MLP as a runnable JAX example: Dense(n, uniform) -> tanh ->
Dense(1) -> linear, MSE, SGD with learning rate 0.1, batch 32, on y = sin(πx).

    python experiments/keras_mlp.py                 # 20 hidden units, 2,000 epochs: seconds
    python experiments/keras_mlp.py --hidden 5

The study does not give its data; we fit y = sin(πx) on x ~ U(−1, 1) (256 points, drawn
from the root key) and measure the MSE on 201 evenly spaced points of [−1, 1].
Writes <out>/results.json and <out>/fit.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, plotting
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies import keras_mlp as K


def build_parser() -> cli.Parser:
    p = cli.Parser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=cli.positive_int, default=20, help="(default: %(default)s)")
    p.add_argument("--epochs", type=cli.positive_int, default=2000, help="(default: %(default)s)")
    p.add_argument("--points", type=cli.positive_int, default=256, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=cli.positive_int, default=32, help="(default: 32)")
    p.add_argument("--lr", type=float, default=0.1, help="(default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="root random seed (default: %(default)s)")
    p.add_argument("--out", default="runs/keras_mlp", help="(default: %(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.batch_size > args.points:
        parser.error(f"--batch-size {args.batch_size} exceeds --points {args.points}")
    data_key, fit_key = jax.random.split(jax.random.key(args.seed))
    train = K.make_data(data_key, args.points)
    grid = jnp.linspace(-1.0, 1.0, 201)[:, None]
    test = (grid, K.target_function(grid))
    start = time.perf_counter()
    params, history = K.fit(
        fit_key,
        train,
        test,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
    )
    prediction = K.KerasMLP(args.hidden).apply({"params": params}, grid)
    history = jax.device_get(history)
    seconds = time.perf_counter() - start
    as_list = lambda a: np.asarray(a, np.float64).ravel().tolist()  # noqa: E731
    fit = {
        "train_x": as_list(train[0]),
        "train_y": as_list(train[1]),
        "grid_x": as_list(grid),
        "grid_target": as_list(test[1]),
        "grid_prediction": as_list(prediction),
        "train_loss": as_list(history.train_loss),
        "test_loss": as_list(history.test_loss),
    }
    results = {
        "description": "Keras-style MLP Dense(n, U(−0.05, 0.05)) -> tanh -> Dense(1), MSE, "
        "SGD lr 0.1, fitting y = sin(πx) on x ~ U(−1, 1)",
        "args": vars(args),
        "initial_train_mse": fit["train_loss"][0],
        "final_train_mse": fit["train_loss"][-1],
        "final_test_mse": fit["test_loss"][-1],
        "fit": fit,
        "timings": {"fit_s": seconds},
        "versions": versions(),
        "machine": machine(),
    }
    out = Path(args.out)
    write_json(out / "results.json", results)
    save_figure(plotting.plot_regression_fit(fit), out / "fit.png")
    print(
        f"{args.hidden} tanh units, {args.epochs} epochs: train MSE after epoch 1 "
        f"{fit['train_loss'][0]:.4f} -> {fit['train_loss'][-1]:.5f}, test MSE "
        f"{fit['test_loss'][-1]:.5f} ({seconds:.1f} s); results in {out}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
