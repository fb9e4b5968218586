"""Quadratic cost against cross-entropy: the learning slowdown (Nielsen, chapter 3).

    python experiments/cost_functions.py                 # neuron + MNIST [784,30,10]
    python experiments/cost_functions.py --no-mnist      # the single neuron only: seconds
    python experiments/cost_functions.py --hidden 30,100 # also Nielsen's 100 hidden units

1. One sigmoid neuron, input 1, target 0, from (w, b) = (0.6, 0.9) and (2, 2): 300
   epochs of gradient descent, quadratic (η 0.15) and cross-entropy (η 0.005).
2. MNIST [784, H, 10] sigmoid, N(0, 1) init, 30 epochs of mini-batch-10 SGD on the
   first 50,000 training images: cross-entropy (η 0.5) and quadratic (η 3.0), both in one
   vmapped call; accuracy on the 10,000-image MNIST test set.

Writes <out>/results.json and PNG figures, and prints a table.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from cnn_jax import cli, plotting
from cnn_jax import data as data_lib
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies import neuron as costs
from cnn_jax.studies import sgd

# Nielsen, chapter 3: test accuracy (%) after 30 epochs, [784, H, 10].
PUBLISHED = {
    30: {"cross_entropy": 95.49, "quadratic": 95.42},
    100: {"cross_entropy": 96.82, "quadratic": 96.59},
}
LR = {"cross_entropy": 0.5, "quadratic": 3.0}


def build_parser() -> cli.Parser:
    p = cli.Parser(description=__doc__.split("\n")[0])
    p.add_argument("--no-mnist", action="store_true", help="run the single neuron only")
    p.add_argument(
        "--neuron-epochs", type=cli.positive_int, default=300, help="(default: %(default)s)"
    )
    p.add_argument(
        "--hidden",
        type=cli.int_list,
        default=(30,),
        help="hidden widths, e.g. 30,100 (default: 30)",
    )
    p.add_argument("--epochs", type=cli.positive_int, default=30, help="(default: %(default)s)")
    p.add_argument("--batch-size", type=cli.positive_int, default=10, help="(default: %(default)s)")
    p.add_argument(
        "--images",
        type=cli.positive_int,
        default=50_000,
        help="first N training images (default: %(default)s, Nielsen's training split)",
    )
    p.add_argument("--test-images", type=cli.positive_int, default=10_000)
    p.add_argument(
        "--seeds", type=cli.positive_int, default=1, help="seeds per cost, vmapped (default: 1)"
    )
    p.add_argument("--seed", type=int, default=0, help="root random seed (default: %(default)s)")
    cli.add_data_dir(p)
    p.add_argument("--out", default="runs/cost_functions", help="(default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def neuron_study(epochs: int) -> tuple[dict, dict]:
    """The four single-neuron runs and the two ∂C/∂w(a) curves, as plain lists."""
    labels, w0, b0, lr, ids = [], [], [], [], []
    for cost in costs.COST_NAMES:
        for w, b in costs.NIELSEN_STARTS.values():
            labels.append((cost, w, b))
            w0.append(w)
            b0.append(b)
            lr.append(costs.NIELSEN_LR[cost])
            ids.append(costs.cost_id(cost))
    h = jax.device_get(
        costs.descend_runs(
            jnp.asarray(w0), jnp.asarray(b0), jnp.asarray(lr), jnp.asarray(ids), epochs=epochs
        )
    )
    runs = {}
    for i, (cost, w, b) in enumerate(labels):
        c = np.asarray(h.cost[i], np.float64)
        half = np.nonzero(c <= c[0] / 2)[0]
        runs[f"{cost}, start ({w}, {b}), η {costs.NIELSEN_LR[cost]}"] = {
            "cost_name": cost,
            "start": [w, b],
            "lr": costs.NIELSEN_LR[cost],
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
            "grad_w": np.asarray(costs.grad_w_against_output(a, cost)).tolist(),
        }
        for cost in costs.COST_NAMES
    }
    return runs, curves


def mnist_study(args, mnist: data_lib.Mnist, hidden: int, progress) -> dict:
    train = (
        jnp.asarray(data_lib.scale(mnist.train_images)),
        jnp.asarray(data_lib.one_hot(mnist.train_labels)),
    )
    test = (
        jnp.asarray(data_lib.scale(mnist.test_images)),
        jnp.asarray(data_lib.one_hot(mnist.test_labels)),
    )
    names = [c for c in ("cross_entropy", "quadratic") for _ in range(args.seeds)]
    hyper = sgd.hypers([LR[c] for c in names], 0.0, names)
    init_key, train_key = jax.random.split(jax.random.fold_in(jax.random.key(args.seed), hidden))
    # The same init and the same batches for both costs, seed by seed: a paired comparison.
    init_keys = jnp.tile(jax.random.split(init_key, args.seeds), 2)
    train_keys = jnp.tile(jax.random.split(train_key, args.seeds), 2)
    net = sgd.Net((784, hidden, 10), "sigmoid", "large")
    t0 = time.perf_counter()
    _, metrics = sgd.run_sweep(
        net,
        hyper,
        init_keys,
        train_keys,
        train,
        test,
        epochs=args.epochs,
        batch_size=args.batch_size,
        block=1,
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    out = {"network": f"784-{hidden}-10", "seconds": seconds, "costs": {}}
    for cost in ("cross_entropy", "quadratic"):
        idx = [i for i, c in enumerate(names) if c == cost]
        per_seed = [sgd.summary(metrics, i) for i in idx]
        out["costs"][cost] = {
            "lr": LR[cost],
            "published_test_accuracy_pct": PUBLISHED.get(hidden, {}).get(cost),
            "final_test_accuracy_per_seed": [s["final_test_accuracy"] for s in per_seed],
            "best_test_accuracy_per_seed": [s["best_test_accuracy"] for s in per_seed],
            "final_test_accuracy_mean": float(
                np.mean([s["final_test_accuracy"] for s in per_seed])
            ),
            "best_test_accuracy_mean": float(np.mean([s["best_test_accuracy"] for s in per_seed])),
            "curves": {k: np.asarray(v[idx[0]], np.float64).tolist() for k, v in metrics.items()},
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Path(args.out)
    start = time.perf_counter()
    runs, curves = neuron_study(args.neuron_epochs)
    results = {
        "description": "Nielsen ch. 3: the learning slowdown of the quadratic cost. MNIST "
        "accuracies are on the 10,000-image MNIST test set, after the last epoch (final) "
        "and at the best epoch (best).",
        "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
        "neuron": {"runs": runs, "grad_w_vs_output": curves},
        "mnist": {},
    }
    save_figure(plotting.plot_neuron_slowdown(runs, curves), out / "neuron_slowdown.png")
    print("single neuron, input 1, target 0: start -> output after epochs")
    for label, r in runs.items():
        print(
            f"  {label:<42} a {r['initial_output']:.3f} -> {r['final_output']:.3f}  "
            f"∂C/∂w at start {r['initial_grad_w']:.4f}  cost drop in 10 epochs "
            f"{r['cost_drop_first_10_epochs']:.4f}"
        )

    if not args.no_mnist:
        data_dir = args.data_dir or os.environ.get(data_lib.ENV_VAR)
        if data_dir and not Path(data_dir).is_dir():
            parser.error(f"data folder {data_dir} does not exist")
        try:
            mnist = data_lib.load_mnist(args.data_dir)
        except data_lib.DataError as e:
            parser.error(str(e))
        if args.images > len(mnist.train_labels):
            parser.error(f"--images {args.images} exceeds {len(mnist.train_labels)}")
        mnist = data_lib.limit(mnist, train=args.images, test=args.test_images)
        for hidden in args.hidden:
            bar = tqdm(
                total=args.epochs,
                desc=f"784-{hidden}-10, 2 costs × {args.seeds} seeds",
                disable=args.no_progress,
                file=sys.stderr,
            )
            entry = mnist_study(args, mnist, hidden, lambda done, bar=bar: bar.update(done - bar.n))
            bar.close()
            results["mnist"][entry["network"]] = entry
            curves_by_cost = {c: e["curves"] for c, e in entry["costs"].items()}
            fig = plotting.plot_config_curves(curves_by_cost)
            save_figure(fig, out / f"mnist_{entry['network']}.png")
        print("\nMNIST test accuracy (%), final / best epoch, mean over seeds; published")
        for name, entry in results["mnist"].items():
            for cost, e in entry["costs"].items():
                pub = e["published_test_accuracy_pct"]
                print(
                    f"  {name:<10} {cost:<14} {100 * e['final_test_accuracy_mean']:6.2f} / "
                    f"{100 * e['best_test_accuracy_mean']:6.2f}   published "
                    f"{pub if pub is not None else '-'}   ({entry['seconds']:.0f} s)"
                )
    results["timings"] = {"total_s": time.perf_counter() - start}
    results["versions"], results["machine"] = versions(), machine()
    write_json(out / "results.json", results)
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
