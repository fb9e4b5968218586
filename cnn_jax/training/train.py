"""Training: state, one jitted update, evaluation, and the epoch loop with checkpoints.

Keys: one root key per run, split once into ``init_key, data_key, dropout_key``.
Epoch e shuffles with ``fold_in(data_key, e)``; step s drops out with
``fold_in(dropout_key, s)``. A resumed run therefore replays exactly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState
from tqdm.auto import tqdm

from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn.losses import LOSSES, l2_penalty
from cnn_jax.nn.models import MLP, DeepCNN, SeedCNN
from cnn_jax.training.checkpoint import RunCheckpoints
from cnn_jax.training.config import TrainConfig

INPUT_SHAPE = (1, 28, 28, 1)


class ConfigMismatch(UsageError):
    """An output folder holds checkpoints of a run with another config."""


def build_model(cfg: TrainConfig):
    if cfg.arch == "seed":
        return SeedCNN(dropout=cfg.dropout, conv=cfg.conv)
    if cfg.arch == "deep":
        return DeepCNN(dropout=cfg.dropout, conv=cfg.conv)
    return MLP(
        widths=cfg.mlp_widths, activation=cfg.activation, weight_init=cfg.init, dropout=cfg.dropout
    )


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "sgd":
        return optax.sgd(cfg.lr)
    if cfg.optimizer == "momentum":
        return optax.sgd(cfg.lr, momentum=cfg.momentum)
    return optax.adam(cfg.lr)


def create_train_state(cfg: TrainConfig, key: jax.Array) -> TrainState:
    model = build_model(cfg)
    # Jitted: eager init of the im2col convs runs op by op and takes seconds.
    params = jax.jit(model.init)(key, jnp.zeros(INPUT_SHAPE, jnp.float32))["params"]
    state = TrainState.create(apply_fn=model.apply, params=params, tx=make_optimizer(cfg))
    # A strongly typed int32 step: the Python 0 that create() stores is weakly typed,
    # and the step after the first update would not match it (one extra compile).
    return state.replace(step=jnp.zeros((), jnp.int32))


def run_keys(seed: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(init_key, data_key, dropout_key) of the run with root seed ``seed``."""
    init_key, data_key, dropout_key = jax.random.split(jax.random.key(seed), 3)
    return init_key, data_key, dropout_key


def initial_state(cfg: TrainConfig) -> TrainState:
    """The state run ``cfg`` starts from, before its first step: the parameters
    :func:`train_and_evaluate` trains, at epoch 0."""
    return create_train_state(cfg, run_keys(cfg.seed)[0])


# Images per gradient-accumulation chunk on CPU, the fastest measured here with the
# "rows" convolution (experiments/benchmark.py --micro-batch N): seed 4 (8: -10 %),
# deep 8 (4: -8 %, 16: about the same, slower to compile).
CPU_MICRO_BATCH = {"seed": 4, "deep": 8}


def micro_batch_size(cfg: TrainConfig) -> int:
    """The chunk the step accumulates gradients over: on CPU a CNN's patch matrices for a
    whole batch do not fit in cache, and small chunks are much faster."""
    if cfg.micro_batch is not None:
        return cfg.micro_batch
    micro = CPU_MICRO_BATCH.get(cfg.arch)
    if micro and jax.default_backend() == "cpu" and cfg.batch_size % micro == 0:
        return micro
    return cfg.batch_size


def make_train_step(cfg: TrainConfig) -> Callable:
    """``train_step(state, batch, key) -> (state, metrics)``, not yet jitted.

    ``batch`` is {"image": [B, 28, 28, 1] float32, "label": [B] int32}; ``key`` is
    the run's dropout key, folded with the step number inside. The gradient of the
    batch-mean loss is accumulated over micro-batches under ``lax.scan`` (the same
    gradient up to float32 rounding); the optimizer steps once per batch.
    """
    loss_fn = LOSSES[cfg.loss]
    micro = micro_batch_size(cfg)
    chunks = cfg.batch_size // micro

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)

        def data_loss(params, images, labels, chunk_key):
            logits = state.apply_fn(
                {"params": params}, images, train=True, rngs={"dropout": chunk_key}
            )
            loss = loss_fn(logits, jax.nn.one_hot(labels, logits.shape[-1]))
            return loss, logits

        value_and_grad = jax.value_and_grad(data_loss, has_aux=True)
        if chunks == 1:
            (loss, logits), grads = value_and_grad(
                state.params, batch["image"], batch["label"], step_key
            )
        else:

            def accumulate(grad_sum, chunk):
                images, labels, i = chunk
                (loss, logits), grads = value_and_grad(
                    state.params, images, labels, jax.random.fold_in(step_key, i)
                )
                return jax.tree.map(jnp.add, grad_sum, grads), (loss, logits)

            def split(x):  # [B, ...] -> [chunks, micro, ...]
                return x.reshape(chunks, micro, *x.shape[1:])

            grad_sum, (losses, logits) = jax.lax.scan(
                accumulate,
                jax.tree.map(jnp.zeros_like, state.params),
                (split(batch["image"]), split(batch["label"]), jnp.arange(chunks)),
            )
            # Equal chunks: the mean of chunk means is the batch mean.
            grads = jax.tree.map(lambda g: g / chunks, grad_sum)
            loss, logits = jnp.mean(losses), logits.reshape(cfg.batch_size, -1)
        if cfg.l2:
            l2_grads = jax.grad(l2_penalty)(state.params, cfg.l2)
            grads = jax.tree.map(jnp.add, grads, l2_grads)
        state = state.apply_gradients(grads=grads)
        metrics = {
            "loss": loss,
            "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["label"]),
            "grad_norm": optax.tree.norm(grads),
        }
        return state, metrics

    return train_step


def make_eval_step(cfg: TrainConfig, apply_fn: Callable) -> Callable:
    """``eval_step(params, batch) -> {"loss_sum", "correct"}`` summed over the batch."""
    loss_fn = LOSSES[cfg.loss]
    micro = micro_batch_size(cfg)

    def eval_step(params, batch: dict):
        images, n = batch["image"], batch["label"].shape[0]
        if n % micro == 0 and n > micro:
            # In chunks, like the train step: 4x faster on CPU (measured), the same logits.
            chunks = images.reshape(n // micro, micro, *images.shape[1:])
            logits = jax.lax.map(lambda x: apply_fn({"params": params}, x, train=False), chunks)
            logits = logits.reshape(n, -1)
        else:
            logits = apply_fn({"params": params}, images, train=False)
        loss = loss_fn(logits, jax.nn.one_hot(batch["label"], logits.shape[-1]))
        return {
            "loss_sum": loss * n,
            "correct": jnp.sum(jnp.argmax(logits, -1) == batch["label"]),
        }

    return eval_step


def evaluate(eval_step: Callable, params, images: jax.Array, labels: jax.Array, batch_size: int):
    """(mean loss, accuracy) over all of ``images``; the last short batch is kept."""
    n = images.shape[0]
    totals = [
        eval_step(
            params, {"image": images[i : i + batch_size], "label": labels[i : i + batch_size]}
        )
        for i in range(0, n, batch_size)
    ]
    loss_sum = sum(float(t["loss_sum"]) for t in totals)
    correct = sum(int(t["correct"]) for t in totals)
    return loss_sum / n, correct / n


def _state_tree(state: TrainState) -> dict:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


def check_same_run(
    saved: dict, cfg: TrainConfig, directory: Path, data_source: str | None = None
) -> None:
    """Refuse to continue checkpoints of a run with another config (epochs aside) or
    trained on other data (``data_source`` as ``Mnist.source``, when both are known)."""
    before = saved.get("data_source")
    if data_source and before and before != data_source:
        raise ConfigMismatch(
            f"{directory} holds a run trained on {before} (now {data_source}); use another --out"
        )
    differ = TrainConfig.from_dict(saved).differences(cfg)
    if differ:
        listed = ", ".join(f"{k}={old!r} (now {new!r})" for k, (old, new) in differ.items())
        raise ConfigMismatch(
            f"{directory} holds a run with a different config: {listed}; use another --out"
        )


def run_label(cfg: TrainConfig) -> str:
    """How a divergence message names the run: its model and learning rate."""
    return f"{cfg.arch}/lr={cfg.lr:g}"


def check_finite(epoch: int, cfg: TrainConfig, **values) -> None:
    """Raise Diverged naming the epoch, the run and the first non-finite value; the
    checkpoint of the epoch before (if any) is the last one saved."""
    for what, value in values.items():
        if not np.isfinite(value).all():
            raise Diverged(
                f"epoch {epoch} of {run_label(cfg)}: non-finite {what.replace('_', ' ')}; "
                "lower the learning rate"
            )


def train_and_evaluate(
    cfg: TrainConfig,
    mnist: data_lib.Mnist,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[TrainState, list[dict]]:
    """Train ``cfg.epochs`` epochs, evaluating on the test set after each.

    With ``out_dir``, a checkpoint follows every epoch and a rerun resumes from the
    last one. Returns the final state and one dict of metrics per epoch.
    """
    mnist = data_lib.limit(mnist, cfg.limit, cfg.test_limit)
    # Data lives on the device for the whole run; batches are gathered there.
    train_x = jnp.asarray(data_lib.scale(mnist.train_images))
    train_y = jnp.asarray(mnist.train_labels)
    test_x = jnp.asarray(data_lib.scale(mnist.test_images))
    test_y = jnp.asarray(mnist.test_labels)
    n = train_x.shape[0]
    steps_per_epoch = n // cfg.batch_size
    if steps_per_epoch == 0:
        raise UsageError(
            f"--batch-size {cfg.batch_size} is more than the {n:,} training images used"
        )

    _, data_key, dropout_key = run_keys(cfg.seed)
    state = initial_state(cfg)
    train_step = jax.jit(make_train_step(cfg), donate_argnums=0)
    eval_step = jax.jit(make_eval_step(cfg, state.apply_fn))

    history: list[dict] = []
    start = 0
    # The data source travels with the config: other data is another run.
    saved_config = {**cfg.to_dict(), "data_source": mnist.source} if mnist.source else cfg.to_dict()
    ckpt = RunCheckpoints(out_dir) if out_dir is not None else None
    try:
        if ckpt is not None:
            skipped = []
            found = ckpt.restore_latest_intact(
                _state_tree(state),
                check_config=lambda saved: check_same_run(saved, cfg, ckpt.directory, mnist.source),
                on_skip=lambda epoch, why: skipped.append((epoch, why)),
            )
            if found is not None:
                state = state.replace(**found.state)
                start, history = found.step, list(found.history)
                for epoch, why in skipped:
                    log(
                        f"checkpoint after epoch {epoch} is corrupt ({why}); resuming from epoch "
                        f"{start}"
                    )
                if start < cfg.epochs and not skipped:
                    log(f"resuming from the checkpoint after epoch {start}")

        for epoch in range(start + 1, cfg.epochs + 1):
            t0 = time.perf_counter()
            order = jax.random.permutation(jax.random.fold_in(data_key, epoch), n)
            # The remainder of n / batch_size is left out this epoch (a different part each epoch).
            order = order[: steps_per_epoch * cfg.batch_size].reshape(
                steps_per_epoch, cfg.batch_size
            )
            step_metrics = []
            for idx in tqdm(
                order,
                desc=f"epoch {epoch}/{cfg.epochs}",
                disable=not progress,
                leave=False,
                mininterval=1.0,
            ):
                state, m = train_step(
                    state, {"image": train_x[idx], "label": train_y[idx]}, dropout_key
                )
                step_metrics.append(m)
            step_metrics = jax.tree.map(lambda *xs: np.asarray(jnp.stack(xs)), *step_metrics)
            seconds = time.perf_counter() - t0
            check_finite(epoch, cfg, loss=step_metrics["loss"], gradient=step_metrics["grad_norm"])
            test_loss, test_acc = evaluate(
                eval_step, state.params, test_x, test_y, cfg.eval_batch_size
            )
            check_finite(epoch, cfg, test_loss=test_loss)
            record = {
                "epoch": epoch,
                "train_loss": float(step_metrics["loss"].mean()),
                "train_accuracy": float(step_metrics["accuracy"].mean()),
                "test_loss": test_loss,
                "test_accuracy": test_acc,
                "seconds": seconds,
                "images_per_second": steps_per_epoch * cfg.batch_size / seconds,
            }
            history.append(record)
            log(
                f"epoch {epoch:3d}  train loss {record['train_loss']:.4f}"
                f" acc {record['train_accuracy']:.4f}  test loss {test_loss:.4f}"
                f" acc {test_acc:.4f}  {seconds:.1f}s"
            )
            if ckpt is not None:
                ckpt.save(epoch, _state_tree(state), history, saved_config)
    finally:
        if ckpt is not None:
            ckpt.close()
    return state, history
