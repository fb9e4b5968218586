"""L2 regularization against overfitting and why it works, and dropout in an MLP (Nielsen,
chapter 3), on Nielsen's vmapped SGD engine.

L2 is Nielsen's (λ/2n)·Σw² added to the batch-mean cost (n = training-set size), the
study's λ'·wᵀw with λ' = λ/(2n) (``losses.nielsen_coeff``). Accuracies are on the MNIST
test images given.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import data as data_lib
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.results import save_figure
from cnn_jax.studies.costs import plots
from cnn_jax.training import sgd

# Nielsen, chapter 3, test accuracy (%): "best" = the peak over epochs he reports.
PUBLISHED = {
    "overfit": {"lambda=0": {"best": 82.27}, "lambda=0.1": {"best": 87.10}},
    "full": {"lambda=0": {"final": 95.33}, "lambda=5": {"final": 96.49}},
}


def _label(lam: float) -> str:
    return f"lambda={lam:g}"


def l2_study(
    name: str,
    mnist: data_lib.Mnist,
    *,
    images: int,
    epochs: int,
    lam: float,
    key: jax.Array,
    hidden: int = 30,
    lr: float = 0.5,
    batch_size: int = 10,
    seeds: int = 1,
    block: int = 20,
    checkpoints: Path | None = None,
    progress=sgd.silent,
) -> dict:
    """[784, hidden, 10] sigmoid + cross-entropy, N(0, 1) init, λ = 0 and λ = ``lam`` from
    the same init and batches, vmapped; the mechanism (kernel norms, |z|) after training."""
    train, test = sgd.device_data(mnist, images)
    lams = [0.0, lam]
    # Configs [λ 0 seed 0, λ seed 0, λ 0 seed 1, ...]: both λ share each seed's init and
    # batches. Seed 0 is the key --seed alone gives: the same run, up to float32 rounding
    # (the vmap width changes the order of some sums).
    seed_keys = [key] + [jax.random.fold_in(key, s) for s in range(1, seeds)]
    pairs = [jax.random.split(k) for k in seed_keys for _ in lams]
    keys_init, keys_train = jnp.stack([p[0] for p in pairs]), jnp.stack([p[1] for p in pairs])
    net = MLPSpec((784, hidden, 10), "sigmoid", "large", cost="sigmoid_ce")
    hyper = sgd.hypers(lr, [losses.nielsen_coeff(v, images) for v in lams] * seeds, net.cost)
    desc = f"{name}: {images} images, λ 0 and {lam:g}" + (f", {seeds} seeds" if seeds > 1 else "")
    t0 = time.perf_counter()
    params, metrics = sgd.run_sweep(
        net,
        hyper,
        keys_init,
        keys_train,
        train,
        test,
        epochs=epochs,
        batch_size=batch_size,
        block=block,
        checkpoint=None
        if checkpoints is None
        else checkpoints / (name if seeds == 1 else f"{name}-{seeds}seeds"),
        progress=progress,
        desc=desc,
    )
    entry = {"images": images, "epochs": epochs, "seconds": time.perf_counter() - t0}
    entry["configs"] = {}
    for i, v in enumerate(lams):
        label = _label(v)
        config = entry["configs"][label] = {
            "lambda": v,
            "l2_coeff": losses.nielsen_coeff(v, images),
            "published_pct": PUBLISHED.get(name, {}).get(label),
            **sgd.summary(metrics, i),
            "curves": {k: np.asarray(m[i], np.float64).tolist() for k, m in metrics.items()},
            "mechanism": sgd.layer_mechanism(
                net, jax.tree.map(lambda x, i=i: x[i], params), test[0]
            ),
        }
        if seeds > 1:
            per_seed = [sgd.summary(metrics, s * len(lams) + i) for s in range(seeds)]
            config["seeds"] = {
                k: [r[k] for r in per_seed]
                for k in ("final_test_accuracy", "best_test_accuracy", "best_epoch")
            }
    return entry


def dropout_study(
    mnist: data_lib.Mnist,
    *,
    images: int,
    epochs: int,
    rate: float,
    key: jax.Array,
    hidden: int = 100,
    lr: float = 0.5,
    batch_size: int = 10,
    seeds: int = 2,
    block: int = 20,
    checkpoints: Path | None = None,
    progress=sgd.silent,
) -> dict:
    """[784, hidden, 10] with dropout 0 and ``rate`` after the hidden layer, the same init
    and batches; the rate is part of the (static) model, so one sweep each."""
    train, test = sgd.device_data(mnist, images)
    hyper = sgd.hypers([lr] * seeds, 0.0, ["sigmoid_ce"] * seeds)
    init_key, train_key = jax.random.split(key)
    init_keys, train_keys = jax.random.split(init_key, seeds), jax.random.split(train_key, seeds)
    entry = {"images": images, "epochs": epochs, "seeds": seeds, "configs": {}}
    t0 = time.perf_counter()
    for r in (0.0, rate):
        net = MLPSpec((784, hidden, 10), "sigmoid", "large", dropout=r, cost="sigmoid_ce")
        _, metrics = sgd.run_sweep(
            net,
            hyper,
            init_keys,
            train_keys,
            train,
            test,
            epochs=epochs,
            batch_size=batch_size,
            block=block,
            checkpoint=None if checkpoints is None else checkpoints / f"dropout{r:g}",
            progress=progress,
            desc=f"dropout {r:g}, {seeds} seeds",
        )
        per_seed = [sgd.summary(metrics, i) for i in range(seeds)]
        mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
        entry["configs"][f"dropout={r:g}"] = {
            "rate": r,
            **mean,  # means over seeds (best_epoch too)
            "final_train_test_gap": mean["final_train_accuracy"] - mean["final_test_accuracy"],
            "per_seed": per_seed,
            "curves": {k: np.mean(m, axis=0).tolist() for k, m in metrics.items()},
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
                final = 100 * np.asarray(c["seeds"]["final_test_accuracy"])
                best = 100 * np.asarray(c["seeds"]["best_test_accuracy"])
                lines.append(
                    f"  {name:<8}{label:<12} {len(final)} seeds: final {final.mean():6.2f} "
                    f"± {final.std(ddof=1):.2f} ({final.min():.2f}–{final.max():.2f})  best "
                    f"{best.mean():6.2f} ({best.min():.2f}–{best.max():.2f})"
                )
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


def write_figures(studies: dict, bins: dict, out: Path) -> None:
    """<name>_curves.png per study and <name>_mechanism.png where there is a mechanism."""
    for name, entry in studies.items():
        curves = {label: c["curves"] for label, c in entry["configs"].items()}
        save_figure(plots.plot_config_curves(curves), out / f"{name}_curves.png")
        mech = {label: c["mechanism"] for label, c in entry["configs"].items() if "mechanism" in c}
        if mech:
            save_figure(plots.plot_saturation(mech, bins), out / f"{name}_mechanism.png")
