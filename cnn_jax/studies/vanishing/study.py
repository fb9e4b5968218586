"""The vanishing-gradient study on real MNIST: Nielsen's chapter 5 over many seeds, the
mean-field prediction, and sigmoid + MSE / sigmoid + CE / ReLU side by side.

:func:`measure` computes every number (``results.json``'s content), :func:`format_tables`
prints them, :func:`write_figures` draws them; ``experiments/vanishing_gradient.py`` only
parses flags and calls these.
"""

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
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.flags import flag
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec, param_shapes
from cnn_jax.nn.tree import layer_names
from cnn_jax.results import save_figure
from cnn_jax.studies.vanishing import mean_field, nielsen_training, plots
from cnn_jax.training import gradients as G

SHRINK_TOLERANCE = 0.20  # the target: median shrink within 20 % of 1/√χ1


def nielsen_network(hidden: int) -> MLPSpec:
    """[784, 30 × hidden, 10], sigmoid, cross-entropy, network2 init."""
    return MLPSpec((784, *[30] * hidden, 10), "sigmoid", "nielsen", cost="sigmoid_ce")


def comparison_networks(hidden: int) -> dict[str, MLPSpec]:
    """The three networks side by side, all [784, 30 × hidden, 10]."""
    sizes = nielsen_network(hidden).sizes
    return {
        "sigmoid + MSE": MLPSpec(sizes, "sigmoid", "nielsen", cost="quadratic"),
        "sigmoid + CE": MLPSpec(sizes, "sigmoid", "nielsen", cost="sigmoid_ce"),
        "ReLU + CE": MLPSpec(sizes, "relu", "he", cost="sigmoid_ce"),
    }


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The init sweeps: ‖δˡ‖ of every network over many seeds, on the first training images."""

    # experiments/reproduce.py's scales of vanishing_gradient.py (with --train)
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset({"images": 100, "seeds": 8}),
        "default": flags.Preset(
            {"seeds": 300},
            "300 of the default 1,000 initializations: the percentile band is as wide; "
            "5 training seeds",
        ),
        "full": flags.Preset({"per_example": True}),
    }
    # fmt: on

    seeds: int = flags.count(1000, "initializations per network, vmapped")
    hidden: tuple[int, ...] = flag(
        (2, 3, 4),
        "numbers of 30-unit hidden layers of Nielsen's networks, comma-separated",
        type=cli.int_list,
    )
    comparison_hidden: int = flags.count(
        4, "hidden layers of the sigmoid + MSE / sigmoid + CE / ReLU comparison"
    )
    images: int = flags.count(1000, "the first N training images, as Nielsen")
    seed: int = flags.seed()
    seed_batch: int | None = flags.count(
        None, "vmap this many seeds at a time to bound memory (default: all)"
    )
    per_example: bool = flag(
        False, "also measure mean_x ‖δˡ_x‖ (norm, then mean) at init, which is slower"
    )

    def check_data(self, mnist: data_lib.Mnist) -> None:
        cli.check_count("--images", self.images, len(mnist.train_labels), "training images")


@dataclasses.dataclass(frozen=True)
class Training:
    """Full-batch gradient descent after the init sweeps (Nielsen: 500 epochs, η 0.1, λ 5)."""

    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset({"epochs": 4, "eval_every": 2}),
        "full": flags.Preset({"train_seeds": 20}),
    }
    # fmt: on

    epochs: int = flags.count(500, "with --train: epochs of full-batch gradient descent")
    lr: float = flags.learning_rate(0.1, "with --train: the learning rate η")
    lam: float = flag(
        5.0,
        "with --train: Nielsen's L2 λ, a weight decay of 1 − ηλ/n on n images",
        type=cli.non_negative_float,
    )
    train_seeds: int = flag(
        5,
        "with --train: seeds per network, vmapped; results keep their median and band "
        "(min, p10, p90, max) per epoch",
        type=cli.positive_int,
    )
    eval_every: int = flags.count(
        10,
        "with --train: test accuracy on the 10,000 test images every N epochs, N dividing --epochs",
    )

    def __post_init__(self):
        if self.epochs % self.eval_every:
            raise UsageError(f"--eval-every {self.eval_every} must divide --epochs {self.epochs}")


def predicted_shrink(net: MLPSpec) -> float:
    sigma_w2, sigma_b2 = mean_field.INIT_VARIANCES[net.init]
    return mean_field.predicted_shrink(net.activation, sigma_w2, sigma_b2)


def _describe(net: MLPSpec) -> dict:
    return {"network": net.name, "activation": net.activation, "init": net.init, "cost": net.cost}


def init_summary(stats: G.GradStats, names: list[str], net: MLPSpec, moments) -> dict:
    """Quantiles over seeds of ‖δˡ‖ (all layers), shrink, and the kernel-gradient median.

    moments: the inputs' (mean ‖x‖²/784, mean cosine), for the mean-field shrink of the
    mean over examples, layer by layer."""
    hidden = np.asarray(stats.delta_norm)[:, :-1]
    sigma_w2, sigma_b2 = mean_field.INIT_VARIANCES[net.init]
    layer_theory = mean_field.predicted_layer_shrinks(
        net.activation, sigma_w2, sigma_b2, *moments, hidden.shape[1]
    )
    out = {
        **_describe(net),
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


def nielsen_entry(
    summary: dict, published: tuple[float, ...] | None, delta_norm=None, per_example=None
) -> dict:
    """``delta_norms`` entry: hidden layers only (Nielsen leaves out the output).
    ``delta_norm`` [S, L], the seeds' values, places each published value in their
    distribution (the percentage of seeds below it); ``per_example`` [S, L] does the same
    for the norm-then-mean reading."""
    n = len(summary["layers"]) - 1
    entry = {k: summary[k][:n] for k in ("layers", *G.QUANTILES, "kernel_norm_median")}
    if "per_example_median" in summary:
        entry["per_example_median"] = summary["per_example_median"][:n]
    for key in (
        "predicted_shrink",
        "median_shrink",
        "predicted_shrink_by_layer",
        "predicted_shrink_of_mean_by_layer",
        "per_example_median_shrink",
    ):
        if key in summary:
            entry[key] = summary[key]
    predicted = summary["predicted_shrink"]
    entry["shrink_within_20pct"] = [
        abs(s / predicted - 1) <= SHRINK_TOLERANCE for s in summary["median_shrink"]
    ]
    if published is not None:
        entry["published"] = list(published)
        entry["published_inside_p01_p99"] = [
            lo <= v <= hi for v, lo, hi in zip(published, entry["p01"], entry["p99"], strict=True)
        ]
        for key, values in (
            ("published_percentile", delta_norm),
            ("published_percentile_per_example", per_example),
        ):
            if values is not None:
                below = np.asarray(values)[:, :n] < np.asarray(published)
                entry[key] = (100 * below.mean(axis=0)).tolist()
    return entry


def training_entry(history: G.TrainHistory, net: MLPSpec, training: Training, summary) -> dict:
    """Median over training seeds of each curve; for ‖δˡ‖ also the band over seeds
    (``delta_norm_band``: min, p10, median, p90, max, each [E+1][L])."""

    def med(x):
        return np.median(np.asarray(x, np.float64), axis=0).tolist()

    return {
        **_describe(net),
        "layers": summary["layers"],
        "epoch": list(range(training.epochs + 1)),
        "delta_norm": med(history.delta_norm),
        "delta_norm_band": nielsen_training.seed_band(history.delta_norm),
        "train_seeds": int(np.shape(history.cost)[0]),
        "cost_value": med(history.cost),
        "train_accuracy": med(history.train_accuracy),
        "test_epoch": list(range(0, training.epochs + 1, training.eval_every)),
        "test_accuracy": med(history.test_accuracy),
        "final_test_accuracy_per_seed": np.asarray(history.test_accuracy)[:, -1].tolist(),
    }


def check_finite(history: G.TrainHistory, net: MLPSpec, lr: float) -> None:
    """Raise :class:`Diverged` at the first epoch whose cost or ‖δ‖ is not finite."""
    ok = np.isfinite(np.asarray(history.cost)) & np.isfinite(np.asarray(history.delta_norm)).all(
        -1
    )  # [S, E+1]
    if not ok.all():
        seed, epoch = (int(i[0]) for i in np.nonzero(~ok))
        raise Diverged(
            f"{net.name} {net.activation} + {net.cost}, training seed {seed}: non-finite cost "
            f"or gradient after {epoch} epochs at lr={lr:g}; lower the learning rate"
        )


def mean_field_table() -> dict:
    """q*, χ1 and the predicted shrink 1/√χ1 for the sigmoid (network2 init) and ReLU (He)."""
    return {
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


DESCRIPTION = (
    "‖δˡ‖ = ‖∂C/∂bˡ‖ of the mean cost over the first {images} MNIST training images (mean "
    "over examples, then norm), per layer from the input side; quantiles over seeds"
)


def measure(
    mnist: data_lib.Mnist,
    sweep: Sweep = Sweep(),
    training: Training | None = None,
    progress: cli.Progress = cli.silent,
) -> dict:
    """Every number of the study on the first ``sweep.images`` training images:
    ``results.json``. A ``progress(desc, total)`` bar moves once per network."""
    start = time.perf_counter()
    train_mnist = data_lib.limit(mnist, train=sweep.images)
    x = jnp.asarray(data_lib.scale(train_mnist.train_images))  # [N, 28, 28, 1]
    targets = jnp.asarray(data_lib.one_hot(train_mnist.train_labels))  # [N, 10]
    init_key, train_key = jax.random.split(jax.random.key(sweep.seed))
    nielsen = {nielsen_network(h).name: nielsen_network(h) for h in sweep.hidden}
    comparison_nets = comparison_networks(sweep.comparison_hidden)
    networks = {**nielsen, **comparison_nets}
    unique = list(dict.fromkeys(networks.values()))  # sigmoid + CE is also Nielsen's deepest

    moments = mean_field.input_moments(data_lib.scale(train_mnist.train_images))
    t0 = time.perf_counter()
    summaries, seed_values = init_sweeps(
        cli.tracked(unique, progress, f"init, {sweep.seeds} seeds"),
        (x, targets),
        init_key,
        sweep,
        moments,
    )
    timings = {"init_sweeps_s": time.perf_counter() - t0}
    delta_norms = {
        name: nielsen_entry(summaries[net], G.NIELSEN_CH5_INIT.get(name), *seed_values[net])
        for name, net in nielsen.items()
    }
    trained: dict[str, dict] = {}
    beside_nielsen: dict[str, dict] = {}
    if training is not None:
        test = (jnp.asarray(data_lib.scale(mnist.test_images)), jnp.asarray(mnist.test_labels))
        t0 = time.perf_counter()
        entries, curves = train_sweeps(
            cli.tracked(unique, progress, f"train, {training.epochs} epochs"),
            (x, targets),
            test,
            train_key,
            training,
            summaries,
        )
        timings["training_s"] = time.perf_counter() - t0
        trained = {name: entries[net] for name, net in networks.items()}
        for h in sweep.hidden:
            net = nielsen_network(h)
            entry = nielsen_overlay(h, curves[net], summaries[net]["layers"])
            if entry is not None:
                beside_nielsen[net.name] = entry
    timings["total_s"] = time.perf_counter() - start
    training_config = None if training is None else dataclasses.asdict(training)
    return {
        "config": {"sweep": dataclasses.asdict(sweep), "training": training_config},
        "description": DESCRIPTION.format(images=sweep.images),
        "delta_norms": delta_norms,
        "predicted_shrink": {name: e["predicted_shrink"] for name, e in delta_norms.items()},
        "mean_field": mean_field_table(),
        "input_moments": {"q_x": moments[0], "mean_cosine": moments[1]},
        "comparison": {label: summaries[net] for label, net in comparison_nets.items()},
        "training": trained,
        "nielsen_training": beside_nielsen,
        "timings": timings,
    }


def init_sweeps(nets, train, init_key, sweep: Sweep, moments) -> tuple[dict, dict]:
    """Per network, its :func:`init_summary` and its seeds' (‖δˡ‖, per-example ‖δˡ‖).

    The same keys for every network: sigmoid + MSE and + CE start from the same weights."""
    x, targets = train
    init_keys = jax.random.split(init_key, sweep.seeds)
    summaries: dict[MLPSpec, dict] = {}
    seed_values: dict[MLPSpec, tuple] = {}
    for net in nets:
        stats = G.init_sweep(
            net.model(),
            x,
            targets,
            net.cost_fn,
            init_keys,
            per_example=sweep.per_example,
            batch_size=sweep.seed_batch,
        )
        names = layer_names(param_shapes(net.model(), x.shape[1:]))
        stats = jax.device_get(stats)
        summaries[net] = init_summary(stats, names, net, moments)
        seed_values[net] = (stats.delta_norm, stats.per_example_delta_norm)
    return summaries, seed_values


def train_sweeps(nets, train, test, train_key, training: Training, summaries) -> tuple:
    """Per network, its :func:`training_entry` after full-batch gradient descent on
    ``train`` = (x, targets), and its seeds' ‖δˡ‖ curves [S, E+1, L]; raises
    :class:`Diverged` on a non-finite cost or ‖δ‖."""
    train_keys = jax.random.split(train_key, training.train_seeds)
    entries: dict[MLPSpec, dict] = {}
    curves: dict[MLPSpec, np.ndarray] = {}
    for net in nets:
        history = G.train_sweep(
            net,
            train_keys,
            train,
            test,
            epochs=training.epochs,
            lr=training.lr,
            l2_coeff=losses.nielsen_coeff(training.lam, train[0].shape[0]),
            eval_every=training.eval_every,
        )
        history = jax.device_get(history)
        check_finite(history, net, training.lr)
        entries[net] = training_entry(history, net, training, summaries[net])
        curves[net] = np.asarray(history.delta_norm)
    return entries, curves


def nielsen_overlay(hidden: int, curves, layers: list[str]) -> dict | None:
    """Nielsen's recorded ‖δˡ‖ of the ``hidden``-layer network against our seeds' curves
    [S, E+1, L] (:func:`nielsen_training.overlay`, hidden layers only), or None when
    his extract has no run of that depth."""
    theirs = nielsen_training.reference(hidden)
    if theirs is None:
        return None
    hidden_curves = np.asarray(curves)[..., :-1]  # he records the hidden layers only
    entry = nielsen_training.overlay(
        theirs["epoch"], theirs["delta_norm"], hidden_curves, theirs["ratio"]
    )
    return {"layers": layers[:-1], **entry}


def format_tables(results: dict) -> str:
    """The study's tables as text, from :func:`measure`'s results."""
    delta_norms, comparison, training = (
        results["delta_norms"],
        results["comparison"],
        results["training"],
    )
    lines = ["", "Nielsen ch. 5 at init: ‖δˡ‖ per hidden layer (input side first), over seeds"]
    lines.append(
        f"{'network':<20}{'layer':<9}{'published':>10}{'p01':>9}{'median':>9}{'p99':>9}"
        "  inside  percentile"
    )
    for name, e in delta_norms.items():
        for i, layer in enumerate(e["layers"]):
            pub = e.get("published")
            pub_text = f"{pub[i]:10.4f}" if pub else f"{'-':>10}"
            inside = ("yes" if e["published_inside_p01_p99"][i] else "NO") if pub else "-"
            rank = e.get("published_percentile")
            lines.append(
                f"{name:<20}{layer:<9}{pub_text}{e['p01'][i]:9.4f}{e['median'][i]:9.4f}"
                f"{e['p99'][i]:9.4f}  {inside:<6}  {f'{rank[i]:.0f}' if rank else '-':>10}"
            )
    lines += [
        "",
        "shrink of ‖δ‖ per layer toward the input (h1/h2, h2/h3, ...): median over seeds;",
        "mean field: 1/√χ1 at q*, and 1/√χ_c for the mean over examples at the data's correlation",
    ]

    def fmt(xs):
        return " ".join(f"{x:5.2f}" for x in xs)

    for name, e in {**delta_norms, **comparison}.items():
        theory = fmt(e["predicted_shrink_of_mean_by_layer"])
        lines.append(
            f"{name:<20}1/√χ1 {e['predicted_shrink']:5.2f}  1/√χ_c {theory}"
            f"  measured {fmt(e['median_shrink'])}"
        )
        if "per_example_median_shrink" in e:
            lines.append(f"{'':<20}norm-then-mean measured {fmt(e['per_example_median_shrink'])}")
    network = next(iter(comparison.values()))["network"]
    lines += ["", f"comparison at init, {network}: median ‖δˡ‖ (h1 .. out)"]
    for name, e in comparison.items():
        lines.append(f"{name:<16}" + " ".join(f"{m:9.2e}" for m in e["median"]))
    if training:
        lines += ["", "after training: final train / test accuracy, ‖δ_h1‖/‖δ_last hidden‖"]
        for name, t in training.items():
            d = t["delta_norm"][-1]
            lines.append(
                f"{name:<20}{t['train_accuracy'][-1]:.3f} / {t['test_accuracy'][-1]:.3f}"
                f"   first/last hidden {d[0] / d[-2]:.3g}"
            )
    lines += format_nielsen_training(results.get("nielsen_training", {}))
    return "\n".join(lines)


def format_nielsen_training(overlays: dict) -> list[str]:
    """Nielsen's training curves against our seeds: the share of his recorded points
    inside our band, his value over our median per layer, and the last/first ratio."""
    if not overlays:
        return []
    lines = [
        "",
        "Nielsen's ‖δˡ‖ during training against our seeds (his recorded epochs):",
        f"{'network':<20}{'seeds':>6}{'in min-max':>11}{'in p10-p90':>11}"
        "  log10(his/our median) per hidden layer",
    ]
    for name, o in overlays.items():
        logs = " ".join(f"{x:+.2f}" for x in o["log10_published_over_median"])
        lines.append(
            f"{name:<20}{o['seeds']:>6}{o['inside_min_max']:>11.0%}{o['inside_p10_p90']:>11.0%}"
            f"  {logs}"
        )
    first, last = o["ratio_epochs"]
    lines += [
        "",
        f"‖δ_last hidden‖/‖δ_h1‖ over epochs {first}-{last}: his; ours p10 / median / p90",
    ]
    for name, o in overlays.items():
        his, ours = o["ratio_published"], o["ratio_ours"]
        cells = "  ".join(
            f"{stat} {his[stat]:.3g}; {ours[stat]['p10']:.3g}/{ours[stat]['median']:.3g}"
            f"/{ours[stat]['p90']:.3g}"
            for stat in nielsen_training.RATIO_STATS
        )
        lines.append(f"{name:<20}{cells}")
    return lines


def write_figures(results: dict, out: str | Path) -> None:
    """The figures of plots.OF_RESULTS that the results hold: delta_norms_by_depth.png,
    comparison.png and, after --train, speed_of_learning.png and nielsen_training.png."""
    for file, draw in plots.OF_RESULTS.items():
        try:
            fig = draw(results)
        except KeyError:  # a figure of the training, and the run was without it
            continue
        save_figure(fig, Path(out) / file)
