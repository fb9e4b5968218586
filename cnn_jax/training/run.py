"""One training run end to end: data -> train (resumable) -> results.json + curves.png."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp

from cnn_jax import data as data_lib
from cnn_jax import plotting
from cnn_jax.nn.models import param_count
from cnn_jax.results import machine, save_figure, versions, write_json
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.train import build_model, evaluate, make_eval_step, train_and_evaluate


def default_out_dir(cfg: TrainConfig, root: str | Path = "runs/mnist_cnn") -> Path:
    """runs/mnist_cnn/<arch>[-<field><value> for each field set away from its default].

    The epoch count is left out of the name so that a longer rerun continues the run.
    """
    defaults = TrainConfig()
    parts = [cfg.arch]
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if field.name not in ("arch", "epochs") and value != getattr(defaults, field.name):
            if isinstance(value, tuple):
                value = "x".join(map(str, value))
            parts.append(f"{field.name}{value}")
    return Path(root) / "-".join(parts)


def finished_results(out_dir: str | Path, cfg: TrainConfig) -> dict | None:
    """The results of a run in ``out_dir`` that already trained ``cfg``, else None."""
    path = Path(out_dir) / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    saved = TrainConfig.from_dict(results["config"])
    if dataclasses.replace(saved, epochs=cfg.epochs) == cfg and saved.epochs >= cfg.epochs:
        return results
    return None


def run(
    cfg: TrainConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Train ``cfg`` into ``out_dir`` (resuming there) and write its results; return them."""
    out_dir = Path(out_dir)
    mnist = data_lib.load_mnist(data_dir)
    start = time.perf_counter()
    state, history = train_and_evaluate(cfg, mnist, out_dir, progress=progress, log=log)
    columns = {key: [h[key] for h in history] for key in history[0]}
    results = {
        "test_accuracy": history[-1]["test_accuracy"],
        "test_accuracies": columns["test_accuracy"],
        "train_accuracies": columns["train_accuracy"],
        "test_losses": columns["test_loss"],
        "train_losses": columns["train_loss"],
        "epochs": len(history),
        "seconds_per_epoch": columns["seconds"],
        "wall_seconds_this_invocation": time.perf_counter() - start,
        "param_count": param_count(state.params),
        "history": history,
        "config": cfg.to_dict(),
        "data_source": mnist.source,
        "versions": versions(),
        "machine": machine(),
    }
    write_json(out_dir / "results.json", results)
    fig = plotting.plot_training_curves(columns, title=out_dir.name)
    save_figure(fig, out_dir / "curves.png")
    return results


def evaluate_saved(
    loaded,
    mnist: data_lib.Mnist,
    *,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> dict:
    """Loss and accuracy of a saved run (a ``layers.LoadedRun``) in eval mode, dropout off,
    on the images it trained on and on the test set.

    The history's train accuracy is a running mean taken while training, with dropout on
    and the weights still moving; this is the same network the test accuracy measures.
    ``train_limit`` evaluates only the first N of the run's training images.
    """
    cfg = loaded.config
    n_train = min(x for x in (cfg.limit, train_limit, len(mnist.train_labels)) if x is not None)
    ds = data_lib.limit(mnist, n_train, test_limit)
    apply_fn = build_model(cfg).apply
    eval_step = jax.jit(make_eval_step(cfg, apply_fn))
    params = jax.device_put(loaded.params)
    out = {}
    for split, images, labels in (
        ("train", ds.train_images, ds.train_labels),
        ("test", ds.test_images, ds.test_labels),
    ):
        x, y = jnp.asarray(data_lib.scale(images)), jnp.asarray(labels)
        loss, acc = evaluate(eval_step, params, x, y, cfg.eval_batch_size)
        out[f"{split}_loss"], out[f"{split}_accuracy"] = loss, acc
        out[f"{split}_images"] = int(labels.shape[0])
    out["gap"] = out["train_accuracy"] - out["test_accuracy"]
    return out
