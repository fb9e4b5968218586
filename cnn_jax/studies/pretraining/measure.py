"""The study's numbers: every row fine-tuned from its starting point, read on validation,
and gathered into results.json's content.

:func:`measure` runs the pretraining stages (:mod:`.stages`), fine-tunes every row on the
learning-rate grid (:func:`finetune_row`, with :mod:`.finetune`'s engine), and returns the
rows; :func:`measure_depths` repeats it at several depths; :func:`run` writes results.json,
prints the table (:mod:`.tables`) and draws the figures (:mod:`.figures`). Finished layers,
rows and fine-tuning epochs are saved as they finish, so a rerun continues.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import data as data_lib
from cnn_jax import stats as stats_lib
from cnn_jax.errors import Diverged
from cnn_jax.inside import probes
from cnn_jax.results import provenance, write_json
from cnn_jax.studies.pretraining import estimate, readout, stages, verdicts
from cnn_jax.studies.pretraining import finetune as finetune_lib
from cnn_jax.studies.pretraining.config import PRETRAINED, PretrainConfig
from cnn_jax.studies.pretraining.figures import write_figures
from cnn_jax.studies.pretraining.stages import Start
from cnn_jax.studies.pretraining.tables import format_table
from cnn_jax.training import gradients as G
from cnn_jax.training import sgd
from cnn_jax.training.rows import RowStore, non_finite, slug


class Data(NamedTuple):
    """What fine-tuning reads: seed keys [S], the splits (images, one-hot targets) on the
    device, the ‖δˡ‖ probe batch, and the readout probes' (images, int labels) fit/score."""

    keys: jax.Array
    train: tuple
    validation: tuple
    test: tuple
    grad_probe: tuple
    probe_fit: tuple
    probe_score: tuple


def finetune_row(
    name: str, start: Start, config: PretrainConfig, data: Data, store, progress, desc, log=None
):
    """Fine-tune one row's start for every seed and learning rate (a checkpoint per epoch
    under ``<out>/checkpoints``), pick the rate on validation, probe its hidden layers before
    and after (seed 0), and save the row. ``desc`` names its progress bar."""
    checkpoint = store.out / "checkpoints" / slug(name)
    stats = jax.device_get(stages.start_stats(start.params, *data.grad_probe, net=start.net))
    t0 = time.perf_counter()
    try:
        (lrs, params, curves, diverged), choice = finetune_lib.finetune_widening(
            start.net,
            config.lrs,
            start.params,
            data.keys,
            (data.train, data.validation, data.test),
            widen=config.widen,
            checkpoint=checkpoint,
            epochs=config.epochs,
            batch_size=config.batch_size,
            patience=config.patience,
            progress=progress,
            desc=desc,
            log=log or (lambda line: None),
        )
    except Diverged as e:
        raise Diverged(f"fine-tuning {name}: {e}; lower --lrs") from None
    seconds = time.perf_counter() - t0
    readouts = {}
    if config.probe_images:
        first = jax.tree.map(lambda x: x[0], start.params)
        tuned = jax.tree.map(lambda x: x[choice["chosen"] * config.seeds], params)
        readouts = {
            when: readout.probe_layers(start.net, p, data.probe_fit, data.probe_score)
            for when, p in (("before", first), ("after", tuned))
        }
    row = _row(name, start, stats, (lrs, curves, diverged), choice, config.seeds, seconds)
    row["updates"] = _updates(name, row, config, len(data.train[0]))
    row["readout"] = readouts
    if (where := non_finite(row)) is not None:
        raise Diverged(f"fine-tuning {name}: {where} is not finite; lower --lrs")
    store.put(name, row)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return row


def split_data(mnist: data_lib.Mnist, config: PretrainConfig, keys: jax.Array) -> Data:
    """The training images (the first ``images`` of the first 50,000), the validation images
    (the first ``validation`` of the last 10,000) and the 10,000 test images, on the device."""
    rest, (val_images, val_labels) = data_lib.nielsen_split(mnist)
    train, test = sgd.device_data(rest, config.images)
    validation = sgd.to_device(val_images[: config.validation], val_labels[: config.validation])
    n = min(config.probe_images, len(train[0]), len(validation[0]))
    return Data(
        jax.vmap(lambda k: jax.random.fold_in(k, 200))(keys),
        train,
        validation,
        test,
        (train[0][: config.grad_images], train[1][: config.grad_images]),
        (train[0][:n], readout.labels(train[1][:n])),
        (validation[0][:n], readout.labels(validation[1][:n])),
    )


def input_readout(data: Data) -> dict:
    """The probes on the pixels themselves: what any layer is measured against."""
    x, xs = probes.flatten(data.probe_fit[0]), probes.flatten(data.probe_score[0])
    y, ys = jnp.asarray(data.probe_fit[1]), jnp.asarray(data.probe_score[1])
    return {
        "probe_accuracy": float(probes.fit_linear_probe(x, y, xs, ys)["test_accuracy"]),
        "nearest_mean_accuracy": float(probes.nearest_mean_accuracy(x, y, xs, ys)),
    }


def measure(
    mnist: data_lib.Mnist,
    config: PretrainConfig,
    store: RowStore,
    *,
    progress=None,
    log: Callable[[str], None] = lambda line: None,
):
    """Every number of the study: ``results.json``'s content. Finished layers and rows are
    saved in ``store`` as they finish and read back on a rerun (which ``log`` says in one
    line; ``log`` also hears each finished stage with the whole run's time left).
    ``progress(desc, total)``: a tqdm-like bar factory (default silent)."""
    start = time.perf_counter()
    if (continuing := store.continuing()) is not None:  # layers count as rows here
        log(f"{continuing} in {store.out}")
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    data = split_data(mnist, config, keys)
    x = data.train[0].reshape(data.train[0].shape[0], -1)  # [N, 784]
    work = estimate.stage_work(config, len(x), len(data.validation[0]))
    whole = estimate.WholeRun(work, bound=config.patience > 0, log=log)
    starts, pretrained = stages.starting_points(
        config, x, data.train[1], keys, store, progress, whole
    )
    rows = {}
    for i, (name, s) in enumerate(starts.items(), start=1):
        desc = f"[{i}/{len(starts)}] fine-tune {name}, epochs"
        if (saved := store.get(name)) is not None:
            rows[name] = saved
            whole.saved(name)
            continue
        rows[name] = finetune_row(name, s, config, data, store, progress, desc, log)
        whole.finished(name, rows[name]["finetune_s"])
    shutil.rmtree(store.out / "checkpoints", ignore_errors=True)
    _add_gaps(rows)
    lrs = ", ".join(f"{lr:g}" for lr in config.lrs)
    budget = f"{config.epochs} epochs"
    if config.patience:
        budget = (
            f"up to {config.epochs} epochs (each rate and seed stopped once {config.patience} "
            "passed without a better validation error of its own)"
        )
    return {
        "description": f"{config.net.name} (sigmoid hidden layers; ReLU for its row) on the "
        f"first {len(x):,} MNIST training images, fine-tuned "
        f"{budget} of SGD (batch "
        f"{config.batch_size}, softmax cross-entropy), each row at the learning rate of "
        f"{{{lrs}}} with the lowest validation error on {len(data.validation[0]):,} of the last "
        f"10,000 training images; test error on the {len(data.test[0]):,} test images over "
        f"{config.seeds} seeds, at the last epoch and at each seed's best validation epoch; "
        f"‖δˡ‖ = ‖∂C/∂bˡ‖ on the first {config.grad_images} training images at the start of "
        "fine-tuning",
        "config": dataclasses.asdict(config),
        "network": config.net.name,
        "layers": [f"dense{i}" for i in range(1, len(config.hidden) + 2)],
        "rows": rows,
        "comparisons": verdicts.compare(rows, test_images=len(data.test[0])),
        "input_readout": input_readout(data) if config.probe_images else {},
        "pretraining": stages.summary(pretrained),
        "filters": {
            name: _filters(pretrained[name]["stack"][0].weights, config.filters)
            for name in ("RBM", "autoencoder", "denoising autoencoder")
            if name in pretrained
        },
        "timings": {"total_s": time.perf_counter() - start},
    }


def _add_gaps(rows: dict) -> None:
    """Each row's test-error gap to random init (points; negative: lower error), at the
    best validation epoch and at the last: the number Bengio et al. 2007 and Erhan et al.
    2010 report as the benefit of pretraining."""
    if "random init" not in rows:
        return
    base = rows["random init"]
    for r in rows.values():
        r["gap_to_random_init"] = (
            r["early_stopping_test_error_mean"] - base["early_stopping_test_error_mean"]
        )
        r["gap_to_random_init_last_epoch"] = r["test_error_mean"] - base["test_error_mean"]


def depth_config(config: PretrainConfig, depth: int) -> PretrainConfig:
    """``config`` with ``depth`` hidden layers as wide as its first."""
    return dataclasses.replace(config, hidden=(config.hidden[0],) * depth, depths=())


def measure_depths(
    mnist: data_lib.Mnist, config: PretrainConfig, out, *, progress=None, log=lambda line: None
):
    """:func:`measure` at each of ``config.depths``, each resumable in ``<out>/depth<d>``:
    {"description", "config", "depths": {"1": results, ...}, "timings"}."""
    start = time.perf_counter()
    results = {}
    for depth in config.depths:
        sub = depth_config(config, depth)
        store = open_rows(Path(out) / f"depth{depth}", sub)
        results[str(depth)] = measure(mnist, sub, store, progress=progress, log=log)
        store.finish()
    first = next(iter(results.values()))
    return {
        "description": f"the rows {', '.join(config.rows)} with "
        f"{', '.join(map(str, config.depths))} hidden layers of {config.hidden[0]}; "
        + first["description"].split(" on the ", 1)[1],
        "config": dataclasses.asdict(config),
        "depths": results,
        "timings": {"total_s": time.perf_counter() - start},
    }


def _mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _updates(name: str, row: dict, config: PretrainConfig, images: int) -> float:
    """The SGD steps behind a row's numbers, for its budget against a paper's: each
    pretraining epoch of each layer, then the fine-tuning epochs its seeds ran (their mean)."""
    steps = images // config.batch_size
    pretraining = config.pretrain_epochs * len(config.hidden) if name in PRETRAINED else 0
    return float((pretraining + np.mean(row["epochs_run_by_seed"])) * steps)


def _row(name, start: Start, stats: G.GradStats, grid, choice, seeds: int, seconds) -> dict:
    """One table row: test error (%) over seeds at the chosen rate, at the last epoch and
    at the best validation epoch, each seed's value and the mean's interval; the grid (the
    rates tried, which diverged, whether the pick sits on its edge); the validation curves
    of every rate; ‖δˡ‖ at the start. grid: (rates, curves, diverged epoch [C])."""
    lrs, curves, diverged = grid
    n = len(lrs)
    per_rate = {
        k: np.asarray(curves[k], np.float64).reshape(n, seeds, -1) for k in finetune_lib.CURVES
    }
    c = choice["chosen"]
    delta = np.asarray(stats.delta_norm, np.float64)  # [S, L]
    hidden = delta[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is caught as non-finite
        ratio = hidden[:, 0] / hidden[:, -1]
    final_mean, final_sd = _mean_sd(choice["final_test_error"])
    early_mean, early_sd = _mean_sd(choice["early_stopping_test_error"])
    diverged = np.asarray(diverged).reshape(n, seeds)
    chosen = slice(c * seeds, (c + 1) * seeds)
    return {
        "network": start.net.name,
        "activation": start.net.activation,
        "lrs": list(lrs),
        "chosen_lr": choice["chosen_lr"],
        "chosen_lr_at_edge": stats_lib.edge_of_grid(choice["chosen_lr"], lrs),
        "validation_score": choice["validation_score"],
        "diverged_lrs": [float(lr) for lr, d in zip(lrs, diverged.any(1), strict=True) if d],
        "diverged": [
            {
                "lr": float(lrs[r]),
                "seed": int(s),
                "epoch": int(diverged[r, s]),
                "why": "weights or errors not finite after this epoch: frozen at its best "
                "parameters and left out of the choice",
            }
            for r, s in zip(*np.nonzero(diverged), strict=True)
        ],
        "epochs_run": int(per_rate["validation"].shape[2]),
        "epochs_run_by_seed": np.asarray(curves["epochs_run"])[chosen].tolist(),
        "final_test_error": choice["final_test_error"],
        "test_error_mean": final_mean,
        "test_error_sd": final_sd,
        "early_stopping_test_error": choice["early_stopping_test_error"],
        "early_stopping_test_error_mean": early_mean,
        "early_stopping_test_error_sd": early_sd,
        "early_stopping_test_error_interval": verdicts.row_interval(
            choice["early_stopping_test_error"]
        ),
        "correct_bits": [verdicts.pack(x) for x in np.asarray(curves["correct_at_best"])[chosen]],
        "best_epoch": choice["best_epoch"],
        "best_validation_error": choice["best_validation_error"],
        "train_error_by_epoch": per_rate["train"][c].tolist(),
        "validation_error_by_epoch": per_rate["validation"][c].tolist(),
        "validation_error_by_lr": per_rate["validation"].mean(1).tolist(),
        "delta_norm": delta.tolist(),
        "delta_norm_median": np.median(delta, axis=0).tolist(),
        "first_over_last_hidden": ratio.tolist(),
        "first_over_last_hidden_median": float(np.median(ratio)),
        "pretrain_s": start.pretrain_seconds,
        "finetune_s": seconds,
    }


def _filters(weights, count: int) -> list[list[float]]:
    """The first ``count`` columns of a first-layer weight matrix [784, H] of seed 0, as
    rows of 784 numbers (4 significant digits: this is a picture)."""
    w = np.asarray(weights)[0, :, :count].T
    return [[float(f"{v:.4g}") for v in row] for row in w]


def open_rows(out: str | Path, config: PretrainConfig) -> RowStore:
    """The finished layers and rows of ``config``'s run in ``out`` (another config's rows
    there are refused: UsageError)."""
    total = len(config.pretrained) * len(config.hidden) + len(config.rows)
    return RowStore(out, dataclasses.asdict(config), total)


def run(
    mnist: data_lib.Mnist,
    config: PretrainConfig,
    out: Path,
    *,
    args: dict,
    started: float,
    progress,
    log: Callable[[str], None] = print,
) -> dict:
    """Measure ``config`` into ``out`` (held by the caller): rows, or depths with
    ``config.depths``; write results.json (the flags under "args") and the figures.
    ``log`` hears a continued run, each finished stage and the whole run's time left."""
    if config.depths:
        store = None
        results = measure_depths(mnist, config, out, progress=progress, log=log)
    else:
        store = open_rows(out, config)
        results = measure(mnist, config, store, progress=progress, log=log)
    args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
    results = {"args": args_json, **results, "provenance": provenance(started)}
    write_json(out / "results.json", results)
    if store is not None:
        store.finish()
    print(format_table(results))
    write_figures(results, out)
    return results
