"""The study's Keras-style MLP as a runnable JAX example: Dense(n, uniform) -> tanh ->
Dense(1) -> linear, MSE, SGD with learning rate 0.1, batch 32, on y = sin(πx).

    python experiments/keras_mlp.py                 # 20 hidden units, 2,000 epochs: seconds
    python experiments/keras_mlp.py --hidden 5

The study does not give its data; we fit y = sin(πx) on x ~ U(−1, 1) (256 points, drawn
from the root key) and measure the MSE on 201 evenly spaced points of [−1, 1].
Writes <out>/results.json and <out>/fit.png.
"""

from __future__ import annotations

import dataclasses
import time

from cnn_jax import cli, flags
from cnn_jax.results import provenance, save_figures, write_json
from cnn_jax.studies.costs import keras_mlp as K
from cnn_jax.studies.costs import plots


def build_parser() -> cli.Parser:
    p = cli.Parser(prog="keras_mlp.py", description=" ".join(__doc__.split("\n\n")[0].split()))
    flags.add_flags(p, K.KerasConfig)
    p.add_argument("--out", default="runs/keras_mlp", help="output folder")
    return p


@cli.one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    config = flags.from_flags(K.KerasConfig, args)
    started = time.time()
    with cli.RunFolder(args["out"]) as folder:
        results = K.experiment(**dataclasses.asdict(config))
        results.update(config=dataclasses.asdict(config), provenance=provenance(started))
        write_json(folder.path / "results.json", results)
        save_figures(plots.KERAS_FIGURES, results, folder.path)
    loss = results["fit"]["train_loss"]
    print(
        f"{config.hidden} tanh units, {config.epochs} epochs: train MSE after epoch 1 "
        f"{loss[0]:.4f} -> {loss[-1]:.5f}, test MSE {results['final_test_mse']:.5f} "
        f"({results['timings']['fit_s']:.1f} s); results in {args['out']}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
