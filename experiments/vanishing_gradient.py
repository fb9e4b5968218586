"""Vanishing gradients, measured on real MNIST (the first 1,000 training images).

    python experiments/vanishing_gradient.py            # init, 1,000 seeds: < 1 min
    python experiments/vanishing_gradient.py --train    # + 500 epochs of training

1. Nielsen's chapter 5 at init: per hidden layer ‖δˡ‖ of [784, 30, ..., 30, 10]
   (sigmoid, cross-entropy, network2 init) over many seeds, against his published draw
   and the mean-field shrink 1/√χ1 per layer.
2. sigmoid + quadratic cost (MSE), sigmoid + cross-entropy, and ReLU (He init) side
   by side: per-layer ‖δˡ‖ at init and, with --train, over training with accuracies.

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
from cnn_jax.nn import losses
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.studies import gradients as G
from cnn_jax.studies import mean_field


def nielsen_network(hidden: int) -> G.Network:
    """[784, 30 × hidden, 10], sigmoid, cross-entropy, network2 init."""
    return G.Network((784, *[30] * hidden, 10))


def comparison_networks(hidden: int) -> dict[str, G.Network]:
    """The three networks side by side, all [784, 30 × hidden, 10]."""
    sizes = nielsen_network(hidden).sizes
    return {
        "sigmoid + MSE": G.Network(sizes, "sigmoid", "nielsen", "quadratic"),
        "sigmoid + CE": G.Network(sizes, "sigmoid", "nielsen", "cross_entropy"),
        "ReLU + CE": G.Network(sizes, "relu", "he", "cross_entropy"),
    }


SHRINK_TOLERANCE = 0.20  # the target: median shrink within 20 % of 1/√χ1


def build_parser() -> cli.Parser:
    p = cli.Parser(
        prog="vanishing_gradient.py",
        description="Measure per-layer gradients (Nielsen's speed of learning ‖δˡ‖) of "
        "sigmoid and ReLU networks on the first MNIST training images over many seeds, "
        "compare with Nielsen ch. 5 and the mean-field prediction, and write "
        "<out>/results.json and PNG figures.",
    )
    p.add_argument(
        "--seeds",
        type=cli.positive_int,
        default=1000,
        help="initialisations per network, vmapped (default: %(default)s)",
    )
    p.add_argument(
        "--hidden",
        type=cli.int_list,
        default=(2, 3, 4),
        help="numbers of 30-unit hidden layers of Nielsen's networks, "
        "comma-separated (default: 2,3,4)",
    )
    p.add_argument(
        "--comparison-hidden",
        type=cli.positive_int,
        default=4,
        help="hidden layers of the sigmoid + MSE / sigmoid + CE / ReLU comparison "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--images",
        type=cli.positive_int,
        default=1000,
        help="the first N training images, as Nielsen (default: %(default)s)",
    )
    p.add_argument(
        "--seed-batch",
        type=cli.positive_int,
        default=None,
        help="vmap this many seeds at a time to bound memory (default: all)",
    )
    p.add_argument(
        "--per-example",
        action="store_true",
        help="also measure mean_x ‖δˡ_x‖ (norm, then mean) at init; slower",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="also train each network by full-batch gradient descent and record "
        "‖δˡ‖ and accuracy every epoch (Nielsen: 500 epochs, η 0.1, λ 5.0)",
    )
    p.add_argument(
        "--epochs",
        type=cli.positive_int,
        default=500,
        help="with --train: epochs (default: %(default)s)",
    )
    p.add_argument("--lr", type=float, default=0.1, help="with --train: η (default: %(default)s)")
    p.add_argument(
        "--lam",
        type=float,
        default=5.0,
        help="with --train: Nielsen's L2 λ; weight decay 1 − ηλ/n on n images "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--train-seeds",
        type=cli.positive_int,
        default=1,
        help="with --train: seeds per network, vmapped; curves show the median "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--eval-every",
        type=cli.positive_int,
        default=10,
        help="with --train: test accuracy on the 10,000 test images every N "
        "epochs; must divide --epochs (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="root random seed (default: %(default)s)")
    cli.add_data_dir(p)
    p.add_argument(
        "--out", default="runs/vanishing_gradient", help="output folder (default: %(default)s)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def predicted_shrink(net: G.Network) -> float:
    sigma_w2, sigma_b2 = mean_field.INIT_VARIANCES[net.init]
    return mean_field.predicted_shrink(net.activation, sigma_w2, sigma_b2)


def layer_labels(n_layers: int) -> list[str]:
    return [f"h{i + 1}" for i in range(n_layers - 1)] + ["out"]


def init_summary(stats: G.GradStats, names: list[str], net: G.Network, moments) -> dict:
    """Quantiles over seeds of ‖δˡ‖ (all layers), shrink, and the kernel-gradient median.

    moments: the inputs' (mean ‖x‖²/784, mean cosine), for the mean-field shrink of the
    mean over examples, layer by layer."""
    hidden = np.asarray(stats.delta_norm)[:, :-1]
    sigma_w2, sigma_b2 = mean_field.INIT_VARIANCES[net.init]
    layer_theory = mean_field.predicted_layer_shrinks(
        net.activation, sigma_w2, sigma_b2, *moments, hidden.shape[1]
    )
    out = {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        "cost": net.cost,
        "layers": names,
        **G.seed_quantiles(stats.delta_norm),
        "kernel_norm_median": np.median(np.asarray(stats.kernel_norm), axis=0).tolist(),
        "predicted_shrink": predicted_shrink(net),
        "median_shrink": G.median_shrink(hidden) if hidden.shape[1] > 1 else [],
        # Mean field with the data's q and correlation at each layer, not the fixed point:
        "predicted_shrink_by_layer": layer_theory["per_example"],
        "predicted_shrink_of_mean_by_layer": layer_theory["mean"],
    }
    if stats.per_example_delta_norm is not None:
        per_example = np.asarray(stats.per_example_delta_norm)
        out["per_example_median"] = np.median(per_example, axis=0).tolist()
        out["per_example_median_shrink"] = G.median_shrink(per_example[:, :-1])
    return out


def nielsen_entry(summary: dict, published: tuple[float, ...] | None) -> dict:
    """``delta_norms`` entry: hidden layers only (Nielsen leaves out the output)."""
    n = len(summary["layers"]) - 1
    entry = {k: summary[k][:n] for k in ("layers", *G.QUANTILES, "kernel_norm_median")}
    if "per_example_median" in summary:
        entry["per_example_median"] = summary["per_example_median"][:n]
    predicted = summary["predicted_shrink"]
    for key in (
        "predicted_shrink",
        "median_shrink",
        "predicted_shrink_by_layer",
        "predicted_shrink_of_mean_by_layer",
        "per_example_median_shrink",
    ):
        if key in summary:
            entry[key] = summary[key]
    entry["shrink_within_20pct"] = [
        abs(s / predicted - 1) <= SHRINK_TOLERANCE for s in summary["median_shrink"]
    ]
    if published is not None:
        entry["published"] = list(published)
        entry["published_inside_p01_p99"] = [
            lo <= v <= hi for v, lo, hi in zip(published, entry["p01"], entry["p99"], strict=True)
        ]
    return entry


def training_entry(history: G.TrainHistory, net: G.Network, args, summary: dict) -> dict:
    """Median over training seeds of each curve."""
    med = lambda x: np.median(np.asarray(x, np.float64), axis=0).tolist()  # noqa: E731
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        "cost": net.cost,
        "layers": summary["layers"],
        "epoch": list(range(args.epochs + 1)),
        "delta_norm": med(history.delta_norm),
        "cost_value": med(history.cost),
        "train_accuracy": med(history.train_accuracy),
        "test_epoch": list(range(0, args.epochs + 1, args.eval_every)),
        "test_accuracy": med(history.test_accuracy),
        "final_test_accuracy_per_seed": np.asarray(history.test_accuracy)[:, -1].tolist(),
    }


def print_tables(delta_norms: dict, comparison: dict, training: dict) -> None:
    print("\nNielsen ch. 5 at init: ‖δˡ‖ per hidden layer (input side first), over seeds")
    print(f"{'network':<20}{'layer':<9}{'published':>10}{'p01':>9}{'median':>9}{'p99':>9}  inside")
    for name, e in delta_norms.items():
        for i, layer in enumerate(e["layers"]):
            pub = e.get("published")
            pub_text = f"{pub[i]:10.4f}" if pub else f"{'-':>10}"
            inside = ("yes" if e["published_inside_p01_p99"][i] else "NO") if pub else "-"
            print(
                f"{name:<20}{layer:<9}{pub_text}{e['p01'][i]:9.4f}{e['median'][i]:9.4f}"
                f"{e['p99'][i]:9.4f}  {inside}"
            )
    print(
        "\nshrink of ‖δ‖ per layer toward the input (h1/h2, h2/h3, ...): median over seeds;"
        "\nmean field: 1/√χ1 at q*, and 1/√χ_c for the mean over examples at the data's"
        " correlation"
    )
    fmt = lambda xs: " ".join(f"{x:5.2f}" for x in xs)  # noqa: E731
    for name, e in {**delta_norms, **comparison}.items():
        theory = fmt(e["predicted_shrink_of_mean_by_layer"])
        print(
            f"{name:<20}1/√χ1 {e['predicted_shrink']:5.2f}  1/√χ_c {theory}"
            f"  measured {fmt(e['median_shrink'])}"
        )
        if "per_example_median_shrink" in e:
            print(f"{'':<20}norm-then-mean measured {fmt(e['per_example_median_shrink'])}")
    print(
        f"\ncomparison at init, {next(iter(comparison.values()))['network']}: "
        "median ‖δˡ‖ (h1 .. out)"
    )
    for name, e in comparison.items():
        print(f"{name:<16}" + " ".join(f"{m:9.2e}" for m in e["median"]))
    if training:
        print("\nafter training: final train / test accuracy, ‖δ_h1‖/‖δ_last hidden‖")
        for name, t in training.items():
            d = t["delta_norm"][-1]
            print(
                f"{name:<20}{t['train_accuracy'][-1]:.3f} / {t['test_accuracy'][-1]:.3f}"
                f"   first/last hidden {d[0] / d[-2]:.3g}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.train and args.epochs % args.eval_every:
        parser.error(f"--eval-every {args.eval_every} must divide --epochs {args.epochs}")
    data_dir = args.data_dir or os.environ.get(data_lib.ENV_VAR)
    if data_dir and not Path(data_dir).is_dir():
        parser.error(f"data folder {data_dir} does not exist")
    start = time.perf_counter()
    try:
        mnist = data_lib.load_mnist(args.data_dir)
    except data_lib.DataError as e:
        parser.error(str(e))
    if args.images > len(mnist.train_labels):
        parser.error(
            f"--images {args.images} exceeds the {len(mnist.train_labels)} training images"
        )
    mnist = data_lib.limit(mnist, train=args.images)
    images = jnp.asarray(data_lib.scale(mnist.train_images))  # [N, 28, 28, 1]
    targets = jnp.asarray(data_lib.one_hot(mnist.train_labels))  # [N, 10]

    init_key, train_key = jax.random.split(jax.random.key(args.seed))
    # The same keys for every network: sigmoid + MSE and + CE start from the same weights.
    init_keys = jax.random.split(init_key, args.seeds)
    nielsen = {nielsen_network(h).name: nielsen_network(h) for h in args.hidden}
    comparison_nets = comparison_networks(args.comparison_hidden)
    networks = {**nielsen, **comparison_nets}
    unique = list(dict.fromkeys(networks.values()))  # sigmoid + CE is also Nielsen's deepest

    moments = mean_field.input_moments(data_lib.scale(mnist.train_images))
    summaries: dict[G.Network, dict] = {}
    timings = {}
    t0 = time.perf_counter()
    for net in tqdm(
        unique, desc=f"init, {args.seeds} seeds", disable=args.no_progress, file=sys.stderr
    ):
        stats = G.init_sweep(
            net.model(),
            images,
            targets,
            net.cost_fn,
            init_keys,
            per_example=args.per_example,
            batch_size=args.seed_batch,
        )
        names = G.layer_names(G.param_shapes(net.model(), images.shape[1:]))
        summaries[net] = init_summary(jax.device_get(stats), names, net, moments)
    timings["init_sweeps_s"] = time.perf_counter() - t0

    delta_norms = {
        name: nielsen_entry(summaries[net], G.NIELSEN_CH5_INIT.get(name))
        for name, net in nielsen.items()
    }
    comparison = {label: summaries[net] for label, net in comparison_nets.items()}
    mf = {
        act: {
            "activation": act,
            "sigma_w2": w,
            "sigma_b2": b,
            "q_star": mean_field.fixed_point_q(act, w, b),
            "chi1": mean_field.chi1(act, w, b),
            "predicted_shrink": mean_field.predicted_shrink(act, w, b),
        }
        for act, (w, b) in (
            ("sigmoid", mean_field.INIT_VARIANCES["nielsen"]),
            ("relu", mean_field.INIT_VARIANCES["he"]),
        )
    }

    training: dict[str, dict] = {}
    if args.train:
        test = (jnp.asarray(data_lib.scale(mnist.test_images)), jnp.asarray(mnist.test_labels))
        train_keys = jax.random.split(train_key, args.train_seeds)
        trained: dict[G.Network, dict] = {}
        t0 = time.perf_counter()
        for net in tqdm(
            unique, desc=f"train, {args.epochs} epochs", disable=args.no_progress, file=sys.stderr
        ):
            history = G.train_sweep(
                net,
                train_keys,
                (images, targets),
                test,
                epochs=args.epochs,
                lr=args.lr,
                l2_coeff=losses.nielsen_coeff(args.lam, args.images),
                eval_every=args.eval_every,
            )
            trained[net] = training_entry(jax.device_get(history), net, args, summaries[net])
        timings["training_s"] = time.perf_counter() - t0
        training = {name: trained[net] for name, net in networks.items()}
    timings["total_s"] = time.perf_counter() - start

    out = Path(args.out)
    results = {
        "description": "‖δˡ‖ = ‖∂C/∂bˡ‖ of the mean cost over the first "
        f"{args.images} MNIST training images (mean over examples, then norm), per layer "
        "from the input side; quantiles over seeds",
        "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(args).items()},
        "delta_norms": delta_norms,
        "predicted_shrink": {name: e["predicted_shrink"] for name, e in delta_norms.items()},
        "mean_field": mf,
        "input_moments": {"q_x": moments[0], "mean_cosine": moments[1]},
        "comparison": comparison,
        "training": training,
        "timings": timings,
        "versions": versions(),
        "machine": machine(),
    }
    write_json(out / "results.json", results)
    print_tables(delta_norms, comparison, training)

    fig = plotting.plot_delta_norms_by_depth(
        delta_norms,
        published=G.NIELSEN_CH5_INIT,
        predicted_shrink=mf["sigmoid"]["predicted_shrink"],
    )
    save_figure(fig, out / "delta_norms_by_depth.png")
    labelled = {k: {**e, "layers": layer_labels(len(e["median"]))} for k, e in comparison.items()}
    cmp_training = None
    if training:
        cmp_training = {k: {**training[k], "layers": labelled[k]["layers"]} for k in labelled}
    save_figure(plotting.plot_network_comparison(labelled, cmp_training), out / "comparison.png")
    if training:
        fig = plotting.plot_speed_of_learning_by_network(
            {name: training[name] for name in nielsen}, hidden_only=True
        )
        save_figure(fig, out / "speed_of_learning.png")
    print(
        f"\n{timings['total_s']:.1f} s in all ({timings['init_sweeps_s']:.1f} s init sweeps"
        + (f", {timings['training_s']:.1f} s training" if training else "")
        + f"); results and figures in {out}"
    )
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
