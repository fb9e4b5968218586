"""L2 regularization against overfitting and why it works, and dropout in an MLP (Nielsen,
chapter 3), on Nielsen's vmapped SGD engine.

L2 is Nielsen's (λ/2n)·Σw² added to the batch-mean cost (n = training-set size), the
study's λ'·wᵀw with λ' = λ/(2n) (``losses.nielsen_coeff``). Accuracies are on the MNIST
test images given.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags, published
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.flags import flag
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.results import save_figures
from cnn_jax.studies.costs import plots
from cnn_jax.training import sgd
from cnn_jax.training.divergence import DIVERGED, describe

# Nielsen, chapter 3, test accuracy (%) of his runs' fig/*.json: "best" = the peak over
# epochs (the number the book quotes), "final" = the last epoch.
PUBLISHED = {
    "overfit": {
        "lambda=0": {"best": 82.27, "final": 82.23},
        "lambda=0.1": {"best": 87.10, "final": 86.95},
    },
    "full": {
        "lambda=0": {"best": 95.33, "final": 95.31},
        "lambda=5": {"best": 96.49, "final": 95.61},
    },
}


# Nielsen's runs in cnn_jax/reference/nielsen.json ("chapter3"), by our (study, config).
NIELSEN_RUNS = {
    ("overfit", "lambda=0"): "overfitting",
    ("overfit", "lambda=0.1"): "regularized",
    ("full", "lambda=0"): "overfitting_full",
    ("full", "lambda=5"): "regularized_full",
}


@dataclasses.dataclass(frozen=True)
class RegularizationConfig:
    """The three studies' sizes (experiments/regularization.py has one flag per field)."""

    # experiments/reproduce.py's scales (the default scale is the defaults)
    # fmt: off
    PRESETS: ClassVar[dict[str, flags.Preset]] = {
        "smoke": flags.Preset(
            {"overfit_images": 100, "overfit_epochs": 2, "full_images": 200, "full_epochs": 1,
             "test_images": 200, "block": 1, "skip_dropout": True}
        ),
        "full": flags.Preset({"seeds": 5}),
    }
    # fmt: on

    skip_full: bool = flag(False, "skip the 50,000-image L2 study")
    overfit_images: int = flags.count(1000, "the first N training images of the overfitting study")
    overfit_epochs: int = flags.count(400, "epochs of the overfitting study")
    overfit_lambda: float = flag(
        0.1, "Nielsen's L2 λ of the overfitting study", type=cli.non_negative_float
    )
    full_images: int = flags.count(50_000, "the first N training images of the full L2 study")
    full_epochs: int = flags.count(30, "epochs of the full L2 study")
    full_lambda: float = flag(
        5.0, "Nielsen's L2 λ of the full L2 study", type=cli.non_negative_float
    )
    hidden: int = flags.count(30, "hidden units of the L2 studies")
    seeds: int = flags.count(
        1,
        "seeds per λ in the L2 studies, vmapped; the first is --seed's run, "
        "the others are reported as a spread",
    )
    skip_dropout: bool = flag(False, "skip the dropout MLP study")
    dropout_hidden: int = flags.count(100, "hidden units of the dropout MLP")
    dropout_epochs: int = flags.count(200, "epochs of the dropout study")
    dropout_rate: float = flag(
        0.5, "dropout rate after the hidden layer, against none", type=cli.rate
    )
    dropout_seeds: int = flags.count(2, "seeds per dropout rate, vmapped")
    lr: float = flags.learning_rate(0.5, "the SGD learning rate η of every study")
    batch_size: int = flags.batch_size(10)
    block: int = flags.count(20, "epochs per checkpoint (a rerun resumes from the last)")
    test_images: int = flags.test_images()
    seed: int = flags.seed()

    def __post_init__(self):
        studies = [("overfit", self.overfit_images)]
        studies += [] if self.skip_full else [("full", self.full_images)]
        for name, images in [*studies, ("dropout", self.overfit_images)]:
            if self.batch_size > images:
                raise UsageError(
                    f"--batch-size {self.batch_size} is more than the {images} images of the "
                    f"{name} study"
                )

    def check_data(self, mnist: data_lib.Mnist) -> None:
        n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
        cli.check_count("--test-images", self.test_images, n_test, "test images")
        cli.check_count("--overfit-images", self.overfit_images, n_train, "training images")
        if not self.skip_full:
            cli.check_count("--full-images", self.full_images, n_train, "training images")


def measure(config: RegularizationConfig, mnist: data_lib.Mnist, out: Path, progress) -> dict:
    """Every number of the studies (``results.json``'s content), checkpointed under
    ``out``/checkpoints; ``mnist``'s test images are the test set."""
    start = time.perf_counter()
    overfit_key, full_key, dropout_key = jax.random.split(jax.random.key(config.seed), 3)
    keys = {"overfit": overfit_key, "full": full_key}
    names = ["overfit"] + ([] if config.skip_full else ["full"])
    checkpoints = out / "checkpoints"
    studies = {
        name: l2_study(name, mnist, config, keys[name], checkpoints, progress) for name in names
    }
    if not config.skip_dropout:
        studies["dropout"] = dropout_study(mnist, config, dropout_key, checkpoints, progress)
    return {
        "description": "Nielsen ch. 3 L2 regularization, [784, H, 10] sigmoid + "
        "cross-entropy, N(0, 1) init; L2 = (λ/2n)·Σ_kernels w² on the batch-mean cost "
        "(study's λ' = λ/2n); accuracies on the MNIST test set; mechanism on the test images",
        "config": dataclasses.asdict(config),
        "studies": studies,
        "bins": {"abs_z": sgd.ABS_Z_BINS.tolist(), "slope": sgd.SLOPE_BINS.tolist()},
        "timings": {"total_s": time.perf_counter() - start},
    }


def _label(lam: float) -> str:
    return f"lambda={lam:g}"


def l2_study(
    name: str,
    mnist: data_lib.Mnist,
    config: RegularizationConfig,
    key: jax.Array,
    checkpoints: Path | None = None,
    progress=cli.silent,
) -> dict:
    """Study ``name`` ("overfit" or "full": its images, epochs and λ from ``config``):
    [784, hidden, 10] sigmoid + cross-entropy, N(0, 1) init, λ = 0 and λ from the same init
    and batches, vmapped; the mechanism (kernel norms, |z|) after training."""
    images, epochs, lam = (getattr(config, f"{name}_{k}") for k in ("images", "epochs", "lambda"))
    seeds = config.seeds
    train, test = sgd.device_data(mnist, images)
    lams = [0.0, lam]
    # Configs [λ 0 seed 0, λ seed 0, λ 0 seed 1, ...]: both λ share each seed's init and
    # batches. Seed 0 is the key --seed alone gives: the same run, up to float32 rounding
    # (the vmap width changes the order of some sums).
    seed_keys = [key] + [jax.random.fold_in(key, s) for s in range(1, seeds)]
    pairs = [jax.random.split(k) for k in seed_keys for _ in lams]
    keys_init, keys_train = jnp.stack([p[0] for p in pairs]), jnp.stack([p[1] for p in pairs])
    net = MLPSpec((784, config.hidden, 10), "sigmoid", "large", cost="sigmoid_ce")
    coeffs = [losses.nielsen_coeff(v, images) for v in lams]
    hyper = sgd.hypers(config.lr, coeffs * seeds, net.cost)
    desc = f"{name}: {images} images, λ 0 and {lam:g}" + (f", {seeds} seeds" if seeds > 1 else "")
    folder = name if seeds == 1 else f"{name}-{seeds}seeds"
    t0 = time.perf_counter()
    params, metrics = sgd.run_sweep(
        net,
        hyper,
        keys_init,
        keys_train,
        train,
        test,
        epochs=epochs,
        batch_size=config.batch_size,
        block=config.block,
        checkpoint=None if checkpoints is None else checkpoints / folder,
        progress=progress,
        desc=desc,
    )
    entry = {"images": images, "epochs": epochs, "seconds": time.perf_counter() - t0}
    entry["configs"] = {}
    for i, v in enumerate(lams):
        configs = list(range(i, seeds * len(lams), len(lams)))  # λ v's seeds
        live, diverged = sgd.row_survivors(
            metrics, hyper, configs, f"{name} λ={v:g}", "lower the learning rate (--lr)"
        )
        # Test accuracy per epoch of the seeds that did not diverge: [seeds, epochs].
        per_seed = np.asarray(metrics["test_accuracy"], np.float64)[live]
        entry["configs"][_label(v)] = {
            "lambda": v,
            "l2_coeff": coeffs[i],
            "published_pct": PUBLISHED.get(name, {}).get(_label(v)),
            **_l2_entry(net, params, metrics, test[0], configs, live),
            "diverged": diverged,
        }
        if (his := nielsen_run(name, v, config)) is not None:
            entry["configs"][_label(v)]["nielsen"] = overlay(per_seed, his)
    return entry


def nielsen_run(name: str, lam: float, config: RegularizationConfig) -> dict | None:
    """Nielsen's run of study ``name`` with L2 ``lam`` from cnn_jax/reference/nielsen.json:
    {"file", "test_accuracy": [per epoch, fraction], "differs": what of our setting is not
    his (images, width, η, mini-batch; [] when none)}, or None when he has no run with
    this λ. Epochs are left out: the comparison is over the epochs both have."""
    key = NIELSEN_RUNS.get((name, _label(lam)))
    if key is None:
        return None
    run = published.nielsen()["chapter3"][key]
    ours = {
        "images": getattr(config, f"{name}_images"),
        "hidden units": config.hidden,
        "η": config.lr,
        "mini-batch": config.batch_size,
    }
    his = {
        "images": run["training_images"],
        "hidden units": int(run["network"].split(",")[1]),  # "[784, 30, 10] sigmoid, ..."
        "η": run["eta"],
        "mini-batch": run["mini_batch"],
    }
    return {
        "file": f"fig/{key}.json",
        "test_accuracy": [x / 100 for x in run["test_accuracy_pct"]],
        "differs": [f"{k} {ours[k]:g} (his {his[k]:g})" for k in ours if ours[k] != his[k]],
    }


def _spread(values) -> dict:
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "min": float(values.min()), "max": float(values.max())}


def overlay(per_seed, his: dict) -> dict:
    """Our seeds' test accuracy [seeds, epochs] beside Nielsen's curve ``his``
    ({"file", "test_accuracy": [his epochs]}), over the epochs both have (the first E).

    Returns {"file", "epochs", "seeds", "differs" (``his``'s: what of our setting is not
    his), "band": {"mean", "min", "max"} per epoch, "his_curve",
    and for "best", "final" and "peak_epoch" (1-based, the first epoch of the best):
    {"his", "ours": [per seed], "mean", "min", "max", "seeds_below": how many of our
    seeds are below his, "seeds_above"}}.
    """
    per_seed = np.asarray(per_seed, np.float64)
    epochs = min(per_seed.shape[1], len(his["test_accuracy"]))
    ours, theirs = per_seed[:, :epochs], np.asarray(his["test_accuracy"][:epochs], np.float64)
    measures = {
        "best": (ours.max(axis=1), theirs.max()),
        "final": (ours[:, -1], theirs[-1]),
        "peak_epoch": (ours.argmax(axis=1) + 1, theirs.argmax() + 1),
    }
    out = {"file": his["file"], "epochs": epochs, "seeds": int(ours.shape[0])}
    out["differs"] = list(his.get("differs", []))
    out["band"] = {
        "mean": ours.mean(axis=0).tolist(),
        "min": ours.min(axis=0).tolist(),
        "max": ours.max(axis=0).tolist(),
    }
    out["his_curve"] = theirs.tolist()
    for what, (mine, his_value) in measures.items():
        cast = int if what == "peak_epoch" else float
        out[what] = {
            "his": cast(his_value),
            "ours": [cast(x) for x in mine],
            **_spread(mine),
            "seeds_below": int((mine < his_value).sum()),
            "seeds_above": int((mine > his_value).sum()),
        }
    return out


def _l2_entry(net: MLPSpec, params, metrics, test_x, configs: list[int], live: list[int]):
    """The summary, curves and mechanism of the first seed of ``configs`` that did not
    diverge (``live``); with several seeds, every seed's final and best accuracy (None for
    a seed that diverged)."""
    first = live[0]
    out = {
        **sgd.summary(metrics, first),
        "curves": sgd.curves(metrics, first),
        "mechanism": sgd.layer_mechanism(net, jax.tree.map(lambda x: x[first], params), test_x),
    }
    if len(configs) > 1:
        per_seed = [sgd.summary(metrics, c) if c in live else None for c in configs]
        out["seeds"] = {
            k: [None if r is None else r[k] for r in per_seed]
            for k in ("final_test_accuracy", "best_test_accuracy", "best_epoch")
        }
    return out


def dropout_study(
    mnist: data_lib.Mnist,
    config: RegularizationConfig,
    key: jax.Array,
    checkpoints: Path | None = None,
    progress=cli.silent,
) -> dict:
    """[784, dropout_hidden, 10] with dropout 0 and ``dropout_rate`` after the hidden layer,
    on the overfitting study's images, the same init and batches; the rate is part of the
    (static) model, so one sweep each."""
    images, seeds = config.overfit_images, config.dropout_seeds
    train, test = sgd.device_data(mnist, images)
    hyper = sgd.hypers([config.lr] * seeds, 0.0, ["sigmoid_ce"] * seeds)
    init_key, train_key = jax.random.split(key)
    init_keys, train_keys = jax.random.split(init_key, seeds), jax.random.split(train_key, seeds)
    entry = {"images": images, "epochs": config.dropout_epochs, "seeds": seeds, "configs": {}}
    t0 = time.perf_counter()
    for r in (0.0, config.dropout_rate):
        net = MLPSpec(
            (784, config.dropout_hidden, 10), "sigmoid", "large", dropout=r, cost="sigmoid_ce"
        )
        _, metrics = sgd.run_sweep(
            net,
            hyper,
            init_keys,
            train_keys,
            train,
            test,
            epochs=config.dropout_epochs,
            batch_size=config.batch_size,
            block=config.block,
            checkpoint=None if checkpoints is None else checkpoints / f"dropout{r:g}",
            progress=progress,
            desc=f"dropout {r:g}, {seeds} seeds",
        )
        live, diverged = sgd.row_survivors(
            metrics, hyper, list(range(seeds)), f"dropout {r:g}", "lower the learning rate (--lr)"
        )
        per_seed = [sgd.summary(metrics, i) for i in live]
        mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
        entry["configs"][f"dropout={r:g}"] = {
            "rate": r,
            **mean,  # means over the seeds that did not diverge (best_epoch too)
            "final_train_test_gap": mean["final_train_accuracy"] - mean["final_test_accuracy"],
            "per_seed": per_seed,
            "curves": {
                k: np.mean(metrics[k][live], axis=0).tolist() for k in sgd.EpochMetrics._fields
            },
            "diverged": diverged,
        }
    entry["seconds"] = time.perf_counter() - t0
    return entry


def format_table(studies: dict) -> str:
    """Final / best test accuracy per study and configuration, and the mechanism."""
    lines = ["", "test accuracy (%) on the MNIST test images: final, best (epoch); published"]
    for name, entry in studies.items():
        for label, c in entry["configs"].items():
            lines.append(
                f"  {name:<8}{label:<12} final {100 * c['final_test_accuracy']:6.2f}  best "
                f"{100 * c['best_test_accuracy']:6.2f} (epoch {c['best_epoch']:>3})  train "
                f"{100 * c['final_train_accuracy']:6.2f}   published {c.get('published_pct')}"
            )
        for label, c in entry["configs"].items():
            if "seeds" in c:
                final = 100 * np.asarray(_finite(c["seeds"]["final_test_accuracy"]))
                best = 100 * np.asarray(_finite(c["seeds"]["best_test_accuracy"]))
                lines.append(
                    f"  {name:<8}{label:<12} {len(final)} seeds: final {final.mean():6.2f} "
                    f"± {final.std(ddof=1):.2f} ({final.min():.2f}–{final.max():.2f})  best "
                    f"{best.mean():6.2f} ({best.min():.2f}–{best.max():.2f})"
                )
        for label, c in entry["configs"].items():
            for record in c.get("diverged", []):
                lines.append(f"  {name:<8}{label:<12} {DIVERGED}: {describe(record)}")
        lines.append(f"  {'':<8}({entry['seconds']:.0f} s)")
    lines += ["", "mechanism after training: per layer ‖W‖, median |z|, fraction saturated"]
    for name, entry in studies.items():
        for label, c in entry["configs"].items():
            if "mechanism" in c:
                cells = "  ".join(
                    f"{layer} ‖W‖ {m['kernel_norm']:6.1f} |z| {m['abs_z_median']:5.2f} "
                    f"sat {m['fraction_saturated']:.3f}"
                    for layer, m in c["mechanism"].items()
                )
                lines.append(f"  {name:<8}{label:<12} {cells}")
    return "\n".join(lines)


def _finite(values: list) -> list:
    """The values of the seeds that did not diverge (None marks one that did)."""
    return [v for v in values if v is not None]


def format_overlay(studies: dict) -> str:
    """Nielsen's best, final and peak epoch against our seeds' (mean, range)."""
    lines = ["", "Nielsen's run against our seeds: his value; our mean (min–max)"]
    for name, entry in studies.items():
        for label, c in entry["configs"].items():
            o = c.get("nielsen")
            if not o:
                continue
            cells = []
            for what, scale, fmt in (("best", 100, ".2f"), ("final", 100, ".2f")):
                m = o[what]
                cells.append(
                    f"{what} {scale * m['his']:{fmt}}; {scale * m['mean']:{fmt}} "
                    f"({scale * m['min']:{fmt}}–{scale * m['max']:{fmt}})"
                )
            p = o["peak_epoch"]
            cells.append(f"peak epoch {p['his']}; {p['mean']:.0f} ({p['min']:.0f}–{p['max']:.0f})")
            lines.append(f"  {name:<8}{label:<12} {o['seeds']} seeds  " + "   ".join(cells))
    return "\n".join(lines)


def write_figures(results: dict, out: Path) -> None:
    """<name>_curves.png per study, <name>_mechanism.png where there is a mechanism and
    <name>_nielsen.png where Nielsen has runs in the same setting
    (:data:`plots.REGULARIZATION_FIGURES`)."""
    save_figures(plots.REGULARIZATION_FIGURES, results, out)
