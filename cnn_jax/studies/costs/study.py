"""Quadratic cost against cross-entropy (Nielsen, chapter 3): the learning slowdown of one
sigmoid neuron, and the two costs on MNIST [784, H, 10] in one vmapped SGD sweep."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.results import save_figures
from cnn_jax.studies.costs import neuron, plots
from cnn_jax.training import sgd
from cnn_jax.training.divergence import DIVERGED, describe

# Nielsen, chapter 3: test accuracy (%) after 30 epochs, [784, H, 10].
PUBLISHED = {
    30: {"sigmoid_ce": 95.49, "quadratic": 95.42},
    100: {"sigmoid_ce": 96.82, "quadratic": 96.59},
}
LR = {"sigmoid_ce": 0.5, "quadratic": 3.0}
MNIST_COSTS = ("sigmoid_ce", "quadratic")


@dataclasses.dataclass(frozen=True)
class CostConfig:
    """The single neuron's epochs and the MNIST sweep's sizes (experiments/cost_functions.py)."""

    # experiments/reproduce.py's scales (the default scale is the defaults)
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset(
            {"hidden": (30, 100), "images": 100, "test_images": 200, "epochs": 2,
             "neuron_epochs": 5}
        ),
        "full": flags.Preset({"hidden": (30, 100)}),
    }
    # fmt: on

    mnist: bool = flag(
        True,
        "after the single neuron, train the MNIST networks (--no-mnist: "
        "the neuron only, in seconds)",
    )
    neuron_epochs: int = flags.count(300, "gradient-descent epochs of the single neuron")
    hidden: tuple[int, ...] = flag(
        (30,), "hidden widths H of the MNIST [784, H, 10] networks, e.g. 30,100", type=cli.int_list
    )
    epochs: int = flags.count(30, "SGD epochs of each MNIST network")
    batch_size: int = flags.batch_size(10)
    images: int = flags.count(50_000, "the first N training images (Nielsen's training split)")
    test_images: int = flags.test_images()
    seeds: int = flags.count(1, "seeds per cost, vmapped")
    seed: int = flags.seed()

    def __post_init__(self):
        if self.mnist and self.batch_size > self.images:
            raise UsageError(
                f"--batch-size {self.batch_size} is more than the --images {self.images}"
            )

    def check_data(self, mnist: data_lib.Mnist) -> None:
        cli.check_count("--images", self.images, len(mnist.train_labels), "training images")
        cli.check_count("--test-images", self.test_images, len(mnist.test_labels), "test images")


def neuron_study(epochs: int) -> tuple[dict, dict]:
    """The four single-neuron runs and the two ∂C/∂w(a) curves, as plain lists."""
    labels, w0, b0, lr, ids = [], [], [], [], []
    for cost in neuron.COSTS:
        for w, b in neuron.NIELSEN_STARTS.values():
            labels.append((cost, w, b))
            w0.append(w)
            b0.append(b)
            lr.append(neuron.NIELSEN_LR[cost])
            ids.append(losses.cost_id(cost))
    h = jax.device_get(
        neuron.descend_runs(
            jnp.asarray(w0), jnp.asarray(b0), jnp.asarray(lr), jnp.asarray(ids), epochs=epochs
        )
    )
    runs = {}
    for i, (cost, w, b) in enumerate(labels):
        c = np.asarray(h.cost[i], np.float64)
        half = np.nonzero(c <= c[0] / 2)[0]
        runs[f"{cost}, start ({w}, {b}), η {neuron.NIELSEN_LR[cost]}"] = {
            "cost_name": cost,
            "start": [w, b],
            "lr": neuron.NIELSEN_LR[cost],
            "cost": c.tolist(),
            "output": np.asarray(h.output[i], np.float64).tolist(),
            "grad_w": np.asarray(h.grad_w[i], np.float64).tolist(),
            "initial_output": float(h.output[i][0]),
            "final_output": float(h.output[i][-1]),
            # the slowdown in numbers: the step's size per unit of η, and the cost fall
            "initial_grad_w": float(h.grad_w[i][0]),
            "cost_drop_first_10_epochs": float(c[0] - c[min(10, epochs)]),
            "epochs_to_halve_cost": int(half[0]) if half.size else None,
        }
    a = np.linspace(0.0, 1.0, 101)
    curves = {
        cost: {
            "output": a.tolist(),
            "grad_w": np.asarray(neuron.grad_w_against_output(a, cost)).tolist(),
        }
        for cost in neuron.COSTS
    }
    return runs, curves


def mnist_study(
    mnist: data_lib.Mnist,
    hidden: int,
    *,
    epochs: int = 30,
    batch_size: int = 10,
    seeds: int = 1,
    seed: int = 0,
    progress=cli.silent,
) -> dict:
    """[784, hidden, 10] sigmoid, N(0, 1) init, both costs at Nielsen's η, from the same init
    and batches seed by seed (a paired comparison), on all of ``mnist``'s images."""
    train, test = sgd.device_data(mnist)
    names = [c for c in MNIST_COSTS for _ in range(seeds)]
    hyper = sgd.hypers([LR[c] for c in names], 0.0, names)
    init_key, train_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), hidden))
    init_keys = jnp.tile(jax.random.split(init_key, seeds), 2)
    train_keys = jnp.tile(jax.random.split(train_key, seeds), 2)
    net = MLPSpec((784, hidden, 10), "sigmoid", "large")
    t0 = time.perf_counter()
    _, metrics = sgd.run_sweep(
        net,
        hyper,
        init_keys,
        train_keys,
        train,
        test,
        epochs=epochs,
        batch_size=batch_size,
        block=1,
        progress=progress,
        desc=f"784-{hidden}-10, 2 costs × {seeds} seeds",
    )
    out = {"network": net.name, "seconds": time.perf_counter() - t0, "costs": {}}
    for cost in MNIST_COSTS:
        idx = [i for i, c in enumerate(names) if c == cost]
        live, diverged = sgd.row_survivors(
            metrics, hyper, idx, f"784-{hidden}-10 {cost}", "lower the learning rate"
        )
        per_seed = [sgd.summary(metrics, i) if i in live else None for i in idx]
        final = [None if s is None else s["final_test_accuracy"] for s in per_seed]
        best = [None if s is None else s["best_test_accuracy"] for s in per_seed]
        out["costs"][cost] = {
            "lr": LR[cost],
            "published_test_accuracy_pct": PUBLISHED.get(hidden, {}).get(cost),
            "final_test_accuracy_per_seed": final,  # None: the seed diverged
            "best_test_accuracy_per_seed": best,
            "final_test_accuracy_mean": float(np.mean([f for f in final if f is not None])),
            "best_test_accuracy_mean": float(np.mean([b for b in best if b is not None])),
            "curves": sgd.curves(metrics, live[0]),
            "diverged": diverged,
        }
    return out


def format_neuron_table(runs: dict) -> str:
    lines = ["single neuron, input 1, target 0: start -> output after epochs"]
    for label, r in runs.items():
        lines.append(
            f"  {label:<42} a {r['initial_output']:.3f} -> {r['final_output']:.3f}  "
            f"∂C/∂w at start {r['initial_grad_w']:.4f}  cost drop in 10 epochs "
            f"{r['cost_drop_first_10_epochs']:.4f}"
        )
    return "\n".join(lines)


def format_mnist_table(entries: dict) -> str:
    lines = ["", "MNIST test accuracy (%), final / best epoch, mean over seeds; published"]
    for name, entry in entries.items():
        for cost, e in entry["costs"].items():
            pub = e["published_test_accuracy_pct"]
            lines.append(
                f"  {name:<10} {cost:<14} {100 * e['final_test_accuracy_mean']:6.2f} / "
                f"{100 * e['best_test_accuracy_mean']:6.2f}   published "
                f"{pub if pub is not None else '-'}   ({entry['seconds']:.0f} s)"
            )
            for record in e.get("diverged", []):
                lines.append(f"  {'':10} {'':14} {DIVERGED}: {describe(record)}")
    return "\n".join(lines)


def measure(config: CostConfig, mnist: data_lib.Mnist | None, progress=cli.silent) -> dict:
    """Every number of the study (``results.json``'s content): the single neuron, then the
    MNIST networks of ``config.hidden`` on ``mnist`` (None: the neuron only)."""
    start = time.perf_counter()
    runs, curves = neuron_study(config.neuron_epochs)
    entries = [
        mnist_study(
            mnist,
            hidden,
            epochs=config.epochs,
            batch_size=config.batch_size,
            seeds=config.seeds,
            seed=config.seed,
            progress=progress,
        )
        for hidden in (config.hidden if mnist is not None else ())
    ]
    return {
        "description": "Nielsen ch. 3: the learning slowdown of the quadratic cost. MNIST "
        "accuracies are on the MNIST test set, after the last epoch (final) and at the "
        "best epoch (best).",
        "config": dataclasses.asdict(config),
        "neuron": {"runs": runs, "grad_w_vs_output": curves},
        "mnist": {entry["network"]: entry for entry in entries},
        "timings": {"total_s": time.perf_counter() - start},
    }


def format_tables(results: dict) -> str:
    """The neuron's table and (when MNIST ran) the MNIST table, from :func:`measure`."""
    tables = [format_neuron_table(results["neuron"]["runs"])]
    if results["mnist"]:
        tables.append(format_mnist_table(results["mnist"]))
    return "\n".join(tables)


def write_figures(results: dict, out: Path) -> None:
    """neuron_slowdown.png, and mnist_<network>.png per MNIST network
    (:data:`plots.COST_FIGURES`)."""
    save_figures(plots.COST_FIGURES, results, out)
