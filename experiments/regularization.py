"""L2 regularization against overfitting, and why it works (Nielsen, chapter 3).

    python experiments/regularization.py               # both studies, a few minutes
    python experiments/regularization.py --skip-full   # the 1,000-image study only

1. Overfitting: [784, 30, 10] sigmoid, cross-entropy, N(0, 1) init, mini-batch-10 SGD,
   η 0.5, on the first 1,000 training images for 400 epochs, λ = 0 and λ = 0.1 in one
   vmapped call; train and test curves of accuracy and cost. Checkpointed every
   --block epochs: rerunning the same command resumes.
2. The same network on the first 50,000 training images for 30 epochs, λ = 0 and 5.0.
3. The mechanism: per layer, the kernel norm and the distribution of |z| and σ'(z) on
   the test images after training, with and without L2.
4. Dropout in an MLP: [784, 100, 10], dropout 0 and 0.5 after the hidden layer, on the
   same 1,000 images (no L2), 2 seeds each: the gap between train and test accuracy.
   (The study's deep CNN with dropout is run by experiments/mnist_cnn.py, not here.)

L2 is Nielsen's (λ/2n)·Σw² added to the batch-mean cost (n = training-set size), that
is the study's λ'·wᵀw with λ' = λ/(2n) (losses.nielsen_coeff). Accuracies are on the
10,000-image MNIST test set. Writes <out>/results.json and PNG figures.
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
from cnn_jax.studies import sgd

# Nielsen, chapter 3, test accuracy (%): "best" = the peak over epochs he reports.
PUBLISHED = {
    "overfit": {"lambda=0": {"best": 82.27}, "lambda=0.1": {"best": 87.10}},
    "full": {"lambda=0": {"final": 95.33}, "lambda=5": {"final": 96.49}},
}


def build_parser() -> cli.Parser:
    p = cli.Parser(description=__doc__.split("\n")[0])
    p.add_argument("--skip-full", action="store_true", help="skip the 50,000-image study")
    p.add_argument("--overfit-images", type=cli.positive_int, default=1000)
    p.add_argument("--overfit-epochs", type=cli.positive_int, default=400)
    p.add_argument("--overfit-lambda", type=float, default=0.1, help="(default: %(default)s)")
    p.add_argument("--full-images", type=cli.positive_int, default=50_000)
    p.add_argument("--full-epochs", type=cli.positive_int, default=30)
    p.add_argument("--full-lambda", type=float, default=5.0, help="(default: %(default)s)")
    p.add_argument("--hidden", type=cli.positive_int, default=30, help="(default: %(default)s)")
    p.add_argument(
        "--seeds",
        type=cli.positive_int,
        default=1,
        help="seeds per λ in the L2 studies, vmapped; the first is --seed's run, the "
        "others are reported as a spread (default: 1)",
    )
    p.add_argument("--skip-dropout", action="store_true", help="skip the dropout MLP study")
    p.add_argument("--dropout-hidden", type=cli.positive_int, default=100)
    p.add_argument("--dropout-epochs", type=cli.positive_int, default=200)
    p.add_argument("--dropout-rate", type=float, default=0.5, help="(default: %(default)s)")
    p.add_argument(
        "--dropout-seeds",
        type=cli.positive_int,
        default=2,
        help="seeds per rate, vmapped (default: 2)",
    )
    p.add_argument("--lr", type=float, default=0.5, help="η (default: %(default)s)")
    p.add_argument("--batch-size", type=cli.positive_int, default=10)
    p.add_argument("--test-images", type=cli.positive_int, default=10_000)
    p.add_argument(
        "--block", type=cli.positive_int, default=20, help="epochs per checkpoint (default: 20)"
    )
    p.add_argument("--seed", type=int, default=0, help="root random seed (default: %(default)s)")
    cli.add_data_dir(p)
    p.add_argument("--out", default="runs/regularization", help="(default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _label(lam: float) -> str:
    return f"lambda={lam:g}"


def study(args, name, mnist, *, images, epochs, lam, key, out: Path) -> dict:
    """λ = 0 and λ = lam from the same init and batches, vmapped; mechanism after training."""
    train = (
        jnp.asarray(data_lib.scale(mnist.train_images[:images])),
        jnp.asarray(data_lib.one_hot(mnist.train_labels[:images])),
    )
    test_images = jnp.asarray(data_lib.scale(mnist.test_images))
    test = (test_images, jnp.asarray(data_lib.one_hot(mnist.test_labels)))
    lams, seeds = [0.0, lam], args.seeds
    # Configs [λ 0 seed 0, λ seed 0, λ 0 seed 1, ...]: both λ share each seed's init and
    # batches. Seed 0 is the key --seed alone gives: the same run, up to float32 rounding
    # (the vmap width changes the order of some sums).
    seed_keys = [key] + [jax.random.fold_in(key, s) for s in range(1, seeds)]
    pairs = [jax.random.split(k) for k in seed_keys for _ in lams]
    keys_init, keys_train = jnp.stack([p[0] for p in pairs]), jnp.stack([p[1] for p in pairs])
    coeffs = [losses.nielsen_coeff(v, images) for v in lams] * seeds
    hyper = sgd.hypers(args.lr, coeffs, "cross_entropy")
    net = sgd.Net((784, args.hidden, 10), "sigmoid", "large")
    bar = tqdm(
        total=epochs,
        desc=f"{name}: {images} images, λ 0 and {lam:g}"
        + (f", {seeds} seeds" if seeds > 1 else ""),
        disable=args.no_progress,
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    params, metrics = sgd.run_sweep(
        net,
        hyper,
        keys_init,
        keys_train,
        train,
        test,
        epochs=epochs,
        batch_size=args.batch_size,
        block=args.block,
        checkpoint=out / "checkpoints" / (name if seeds == 1 else f"{name}-{seeds}seeds"),
        progress=lambda done: bar.update(done - bar.n),
    )
    bar.close()
    seconds = time.perf_counter() - t0
    entry = {"images": images, "epochs": epochs, "seconds": seconds, "configs": {}}
    for i, v in enumerate(lams):
        p = jax.tree.map(lambda x, i=i: x[i], params)
        label = _label(v)
        entry["configs"][label] = {
            "lambda": v,
            "l2_coeff": losses.nielsen_coeff(v, images),
            "published_pct": PUBLISHED[name].get(label),
            **sgd.summary(metrics, i),
            "curves": {k: np.asarray(m[i], np.float64).tolist() for k, m in metrics.items()},
            "mechanism": sgd.layer_mechanism(net, p, test_images),
        }
        if seeds > 1:
            per_seed = [sgd.summary(metrics, s * len(lams) + i) for s in range(seeds)]
            entry["configs"][label]["seeds"] = {
                key: [r[key] for r in per_seed]
                for key in ("final_test_accuracy", "best_test_accuracy", "best_epoch")
            }
    return entry


def dropout_study(args, mnist, *, key, out: Path) -> dict:
    """[784, H, 10] with dropout 0 and r on the overfitting images, the same init and
    batches; the dropout rate is part of the (static) model, so one sweep each."""
    images = args.overfit_images
    train = (
        jnp.asarray(data_lib.scale(mnist.train_images[:images])),
        jnp.asarray(data_lib.one_hot(mnist.train_labels[:images])),
    )
    test = (
        jnp.asarray(data_lib.scale(mnist.test_images)),
        jnp.asarray(data_lib.one_hot(mnist.test_labels)),
    )
    seeds = args.dropout_seeds
    hyper = sgd.hypers([args.lr] * seeds, 0.0, ["cross_entropy"] * seeds)
    init_key, train_key = jax.random.split(key)
    init_keys, train_keys = jax.random.split(init_key, seeds), jax.random.split(train_key, seeds)
    entry = {"images": images, "epochs": args.dropout_epochs, "seeds": seeds, "configs": {}}
    t0 = time.perf_counter()
    for rate in (0.0, args.dropout_rate):
        net = sgd.Net((784, args.dropout_hidden, 10), "sigmoid", "large", dropout=rate)
        bar = tqdm(
            total=args.dropout_epochs,
            desc=f"dropout {rate:g}, {seeds} seeds",
            disable=args.no_progress,
            file=sys.stderr,
        )
        _, metrics = sgd.run_sweep(
            net,
            hyper,
            init_keys,
            train_keys,
            train,
            test,
            epochs=args.dropout_epochs,
            batch_size=args.batch_size,
            block=args.block,
            checkpoint=out / "checkpoints" / f"dropout{rate:g}",
            progress=lambda done, bar=bar: bar.update(done - bar.n),
        )
        bar.close()
        per_seed = [sgd.summary(metrics, i) for i in range(seeds)]
        mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
        entry["configs"][f"dropout={rate:g}"] = {
            "rate": rate,
            **mean,  # means over seeds (best_epoch too)
            "final_train_test_gap": mean["final_train_accuracy"] - mean["final_test_accuracy"],
            "per_seed": per_seed,
            "curves": {k: np.mean(m, axis=0).tolist() for k, m in metrics.items()},
        }
    entry["seconds"] = time.perf_counter() - t0
    return entry


def print_table(results: dict) -> None:
    print("\ntest accuracy (%) on the 10,000 MNIST test images: final, best (epoch); published")
    for name, entry in results["studies"].items():
        for label, c in entry["configs"].items():
            print(
                f"  {name:<8}{label:<12} final {100 * c['final_test_accuracy']:6.2f}  best "
                f"{100 * c['best_test_accuracy']:6.2f} (epoch {c['best_epoch']:>3})  train "
                f"{100 * c['final_train_accuracy']:6.2f}   published {c.get('published_pct')}"
            )
        for label, c in entry["configs"].items():
            if "seeds" in c:
                final = 100 * np.asarray(c["seeds"]["final_test_accuracy"])
                best = 100 * np.asarray(c["seeds"]["best_test_accuracy"])
                print(
                    f"  {name:<8}{label:<12} {len(final)} seeds: final {final.mean():6.2f} "
                    f"± {final.std(ddof=1):.2f} ({final.min():.2f}–{final.max():.2f})  best "
                    f"{best.mean():6.2f} ({best.min():.2f}–{best.max():.2f})"
                )
        print(f"  {'':<8}({entry['seconds']:.0f} s)")
    print("\nmechanism after training: per layer ‖W‖, median |z|, fraction σ'(z) < 0.01")
    for name, entry in results["studies"].items():
        for label, c in entry["configs"].items():
            if "mechanism" not in c:
                continue
            cells = "  ".join(
                f"{layer} ‖W‖ {m['kernel_norm']:6.1f} |z| {m['abs_z_median']:5.2f} "
                f"sat {m['fraction_saturated']:.3f}"
                for layer, m in c["mechanism"].items()
            )
            print(f"  {name:<8}{label:<12} {cells}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    data_dir = args.data_dir or os.environ.get(data_lib.ENV_VAR)
    if data_dir and not Path(data_dir).is_dir():
        parser.error(f"data folder {data_dir} does not exist")
    try:
        mnist = data_lib.load_mnist(args.data_dir)
    except data_lib.DataError as e:
        parser.error(str(e))
    n_train = len(mnist.train_labels)
    if not 0.0 <= args.dropout_rate < 1.0:
        parser.error(f"--dropout-rate must be in [0, 1), got {args.dropout_rate}")
    for flag, value in (
        ("--overfit-images", args.overfit_images),
        ("--full-images", args.full_images),
    ):
        if value > n_train:
            parser.error(f"{flag} {value} exceeds the {n_train} training images")
    mnist = data_lib.limit(mnist, test=args.test_images)
    out = Path(args.out)
    start = time.perf_counter()
    overfit_key, full_key, dropout_key = jax.random.split(jax.random.key(args.seed), 3)
    studies = {
        "overfit": study(
            args,
            "overfit",
            mnist,
            images=args.overfit_images,
            epochs=args.overfit_epochs,
            lam=args.overfit_lambda,
            key=overfit_key,
            out=out,
        )
    }
    if not args.skip_full:
        studies["full"] = study(
            args,
            "full",
            mnist,
            images=args.full_images,
            epochs=args.full_epochs,
            lam=args.full_lambda,
            key=full_key,
            out=out,
        )
    if not args.skip_dropout:
        studies["dropout"] = dropout_study(args, mnist, key=dropout_key, out=out)
    results = {
        "description": "Nielsen ch. 3 L2 regularization, [784, H, 10] sigmoid + cross-entropy, "
        "N(0, 1) init; L2 = (λ/2n)·Σ_kernels w² on the batch-mean cost (study's λ' = λ/2n); "
        "accuracies on the 10,000-image MNIST test set; mechanism on the test images",
        "args": vars(args),
        "studies": studies,
        "bins": {"abs_z": sgd.ABS_Z_BINS.tolist(), "slope": sgd.SLOPE_BINS.tolist()},
        "timings": {"total_s": time.perf_counter() - start},
        "versions": versions(),
        "machine": machine(),
    }
    write_json(out / "results.json", results)
    for name, entry in studies.items():
        curves = {label: c["curves"] for label, c in entry["configs"].items()}
        save_figure(plotting.plot_config_curves(curves), out / f"{name}_curves.png")
        mech = {label: c["mechanism"] for label, c in entry["configs"].items() if "mechanism" in c}
        if not mech:
            continue
        fig = plotting.plot_saturation(mech, results["bins"])
        save_figure(fig, out / f"{name}_mechanism.png")
    print_table(results)
    print(f"\n{results['timings']['total_s']:.1f} s; results and figures in {out}")
    return 0


if __name__ == "__main__":
    cli.exit_with(main)
