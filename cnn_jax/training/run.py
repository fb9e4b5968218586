"""One training run end to end: data -> train (resumable) -> results.json + curves.png,
and the one way to load a saved run back (:func:`load_run`)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from cnn_jax import cli, plotting
from cnn_jax import data as data_lib
from cnn_jax.errors import UsageError
from cnn_jax.nn.models import param_count
from cnn_jax.results import provenance, save_figure, write_json
from cnn_jax.training import devices
from cnn_jax.training.checkpoint import CheckpointError, RunCheckpoints
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.train import (
    build_model,
    check_data_source,
    create_train_state,
    evaluate,
    make_eval_step,
    train_and_evaluate,
)


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


def finished_results(out_dir: str | Path, cfg: TrainConfig, data_source: str = "") -> dict | None:
    """The results of a run in ``out_dir`` that already trained ``cfg``, else None. A
    finished run of more epochs than ``cfg`` asks for is refused (UsageError, one line).

    A finished run of the same config on other data (``data_source`` as ``Mnist.source``)
    is another run: ConfigMismatch."""
    path = Path(out_dir) / "results.json"
    if not path.is_file():
        return None
    try:
        results = json.loads(path.read_text())
        saved = TrainConfig.from_dict(results["config"])
    except (OSError, ValueError, KeyError, TypeError, UsageError):
        return None  # unreadable or foreign: training (and its checkpoint checks) decides
    if not saved.same_run(cfg) or saved.epochs < cfg.epochs:
        return None
    check_data_source(Path(out_dir), results.get("data_source"), data_source)
    if saved.epochs > cfg.epochs:  # refused, as the same folder without results.json is
        raise UsageError(
            f"{out_dir} already holds a finished run of {saved.epochs} epochs, more than the "
            f"{cfg.epochs} asked for; ask for --epochs {saved.epochs} or use another --out"
        )
    return results


# A 10-class run whose test accuracy ends below this learned (almost) nothing.
NEAR_CHANCE = 0.2


def warn_if_stuck(results: dict) -> str | None:
    """One line when a finite run ended near chance: the learning rate may be too high."""
    if results["test_accuracy"] >= NEAR_CHANCE:
        return None
    return (
        f"warning: test accuracy {results['test_accuracy']:.1%} after {results['epochs']} "
        f"epochs is near chance (test loss {results['test_losses'][-1]:.3g}); the learning "
        "rate may be too high or too low"
    )


def run(
    cfg: TrainConfig,
    out_dir: str | Path,
    mnist: data_lib.Mnist,
    *,
    progress: cli.Progress = cli.silent,
    log: Callable[[str], None] = print,
    mesh: Mesh | None = None,
    keep_epochs: Sequence[int] = (),
) -> dict:
    """Train ``cfg`` on ``mnist`` into ``out_dir`` (resuming there) over the devices of
    ``mesh`` (default: one) and write its results (process 0 only); return them. The
    caller holds ``out_dir`` (``cli.RunFolder``); ``progress`` and ``keep_epochs`` as in
    :func:`train_and_evaluate`."""
    out_dir = Path(out_dir)
    started, start = time.time(), time.perf_counter()
    state, history = train_and_evaluate(
        cfg, mnist, out_dir, progress=progress, log=log, mesh=mesh, keep_epochs=keep_epochs
    )
    columns = {key: [h[key] for h in history] for key in history[0]}
    n_train = cfg.limit or len(mnist.train_labels)
    n_test = cfg.test_limit or len(mnist.test_labels)
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
        "devices": mesh.size if mesh else 1,
        "processes": jax.process_count(),
        "train_images": n_train,
        "test_images": n_test,
        "history": history,
        "config": cfg.to_dict(),
        "data_source": mnist.source,
        "kept_epochs": list(keep_epochs),
        "provenance": provenance(started),
    }
    if not devices.is_writer():
        return results
    write_json(out_dir / "results.json", results)
    fig = plotting.plot_training_curves(columns, title=out_dir.name)
    save_figure(fig, out_dir / "curves.png")
    if warning := warn_if_stuck(results):
        log(warning)
    return results


def run_or_resume(
    cfg: TrainConfig,
    out_dir: Path,
    mnist: data_lib.Mnist,
    *,
    mesh: Mesh,
    keep_epochs: Sequence[int] = (),
    quiet: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """:func:`run` into ``out_dir`` unless it already finished ``cfg``; either way its
    results, with a line to ``log``. The caller holds ``out_dir`` (``cli.RunFolder``)."""
    if (done := finished_results(out_dir, cfg, mnist.source)) is not None:
        log(
            f"{out_dir} already finished {done['epochs']} epochs: test accuracy "
            f"{done['test_accuracy']:.4f}; nothing to do (results in {out_dir / 'results.json'})"
        )
        return done
    where = f" on {mesh.size} devices" if mesh.size > 1 else ""
    log(f"training {cfg.arch} for {cfg.epochs} epochs{where} into {out_dir}")
    try:
        results = run(
            cfg,
            out_dir,
            mnist,
            progress=cli.progress_bars(quiet),
            log=log,
            mesh=mesh,
            keep_epochs=keep_epochs,
        )
    except CheckpointError as e:
        raise CheckpointError(
            f"cannot resume: {e}; delete {out_dir / 'checkpoints'} or pass another --out"
        ) from None
    log(
        f"test accuracy {results['test_accuracy']:.4f} after {results['epochs']} epochs; "
        f"results in {out_dir / 'results.json'}"
    )
    return results


# ----------------------------------------------------------------------------- saved runs


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """A run as experiments/mnist_cnn.py saved it, at one epoch."""

    config: TrainConfig
    params: dict  # numpy arrays, keyed like the model's params (conv1/kernel, ...)
    epoch: int
    history: list[dict]  # one dict of metrics per epoch up to ``epoch``

    @property
    def test_accuracy(self) -> float | None:
        return self.history[-1].get("test_accuracy") if self.history else None


def load_run(run_dir: str | Path, epoch: int | None = None) -> SavedRun:
    """Config, params, epoch and history of a run written by experiments/mnist_cnn.py,
    read-only. ``epoch`` None takes the latest checkpoint, which must be intact: a reader
    does not fall back to an older one. Raises CheckpointError (one line) for a missing
    folder, a folder without checkpoints, or a checkpoint that is corrupt or unreadable."""
    run_dir = Path(run_dir)
    if problem := cli.not_a_folder(run_dir):
        raise CheckpointError(f"checkpoint folder {run_dir} {problem}")
    if not (run_dir / "checkpoints").is_dir():
        raise CheckpointError(
            f"{run_dir} has no checkpoints/ folder (expected a run written by "
            "experiments/mnist_cnn.py --out RUN_DIR)"
        )
    with RunCheckpoints(run_dir, read_only=True) as ckpt:
        saved = ckpt.all_steps()
        if not saved:
            raise CheckpointError(f"{run_dir}/checkpoints holds no complete checkpoint")
        epoch = saved[-1] if epoch is None else epoch
        if epoch not in saved:
            raise CheckpointError(
                f"{run_dir} has no checkpoint of epoch {epoch} (saved: "
                f"{', '.join(map(str, saved))})"
            )
        where = ckpt.where(epoch)
        ckpt.check_format(epoch)
        try:
            cfg = TrainConfig.from_dict(ckpt.read_config(epoch))
        except (TypeError, ValueError, UsageError) as e:  # a config this version cannot build
            raise CheckpointError(f"{where} holds a config this version cannot use ({e})") from None
        abstract = jax.eval_shape(lambda: create_train_state(cfg, jax.random.key(0)))
        target = {"params": abstract.params, "opt_state": abstract.opt_state, "step": abstract.step}
        state, history, _ = ckpt.restore(epoch, target)
    params = jax.tree.map(np.asarray, state["params"])
    return SavedRun(cfg, params, epoch, list(history))


def evaluation_sizes(
    loaded: SavedRun,
    mnist: data_lib.Mnist,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> tuple[int, int]:
    """(training images, test images) :func:`evaluate_saved` uses: the first
    ``train_limit`` of those the run trained on, the first ``test_limit`` test images.
    Asking for more than there are is a UsageError, never a silent cap."""
    seen = min(loaded.config.limit or len(mnist.train_labels), len(mnist.train_labels))
    cli.check_count("--train-limit", train_limit, seen, "training images the run trained on")
    cli.check_count("--test-limit", test_limit, len(mnist.test_labels), "test images")
    return train_limit or seen, test_limit or len(mnist.test_labels)


def evaluate_saved(
    loaded: SavedRun,
    mnist: data_lib.Mnist,
    *,
    train_limit: int | None = None,
    test_limit: int | None = None,
) -> dict:
    """Loss and accuracy of a saved run (a :class:`SavedRun`) in eval mode, dropout off,
    on the images it trained on and on the test set.

    The history's train accuracy (``logged_train_accuracy``, beside the saved epoch's
    ``logged_test_accuracy``) is a running mean taken while training, with dropout on and
    the weights still moving; this is the same network the test accuracy measures.
    ``train_limit`` evaluates only the first N of the run's training images.
    """
    cfg = loaded.config
    n_train, n_test = evaluation_sizes(loaded, mnist, train_limit, test_limit)
    ds = data_lib.limit(mnist, n_train, n_test)
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
    return out | {
        "arch": cfg.arch,
        "dropout": cfg.dropout,
        "epoch": loaded.epoch,
        "logged_train_accuracy": loaded.history[-1]["train_accuracy"],
        "logged_test_accuracy": loaded.history[-1]["test_accuracy"],
    }
