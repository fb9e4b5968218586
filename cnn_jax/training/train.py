"""Training: state, one jitted update, evaluation, and the epoch loop with checkpoints.

Keys: one root key per run, split once into ``init_key, data_key, dropout_key``.
Epoch e shuffles with ``epoch_batches(data_key, e, ...)`` (``fold_in(data_key, e)``);
step s drops out with ``fold_in(dropout_key, s)``. A resumed run therefore replays exactly.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from cnn_jax import cli
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn.conv import resolve
from cnn_jax.nn.losses import LOSSES, l2_penalty
from cnn_jax.nn.models import CNNS, MLP
from cnn_jax.training import devices
from cnn_jax.training.batches import epoch_batches
from cnn_jax.training.checkpoint import RunCheckpoints, resume
from cnn_jax.training.config import TrainConfig

INPUT_SHAPE = (1, 28, 28, 1)


class ConfigMismatch(UsageError):
    """An output folder holds checkpoints of a run with another config."""


def build_model(cfg: TrainConfig):
    if cfg.arch in CNNS:
        return CNNS[cfg.arch](dropout=cfg.dropout, conv=cfg.conv)
    return MLP(
        widths=cfg.mlp_widths, activation=cfg.activation, weight_init=cfg.init, dropout=cfg.dropout
    )


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    if cfg.optimizer == "sgd":
        return optax.sgd(cfg.lr)
    if cfg.optimizer == "momentum":
        return optax.sgd(cfg.lr, momentum=cfg.momentum)
    # Keras 1's RMSprop and Adadelta, the constants a 2016 user had by default: RMSprop
    # divides by sqrt(a) + eps (eps outside the root), Adadelta keeps eps inside both roots.
    if cfg.optimizer == "rmsprop":
        return optax.rmsprop(cfg.lr, decay=0.9, eps=1e-8, eps_in_sqrt=False)
    if cfg.optimizer == "adadelta":
        return optax.adadelta(cfg.lr, rho=0.95, eps=1e-8)
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


# Images per gradient-accumulation chunk on CPU, per convolution routine and model, chosen
# with experiments/benchmark.py --conv C --micro-batch N (the fastest there; the C++ kernel
# runs 8 to 32 alike, and slower on a whole batch of 128).
# The slides' deep CNNs too train faster in chunks of 16 than as a whole batch of 128.
CPU_MICRO_BATCH = {
    "rows": {"seed": 4, "deep": 8},
    "direct": {"seed": 16, "deep": 16, "study_deep": 16, "study_deep_dropout": 16},
}


def micro_batch_size(cfg: TrainConfig, devices: int = 1) -> int:
    """The chunk each device accumulates gradients over: on CPU a CNN's patch matrices for a
    whole batch do not fit in cache, and small chunks are much faster."""
    per_device = cfg.batch_size // devices
    # Resolved first, even with --micro-batch: a CNN's conv that cannot run here (a broken
    # kernel under --conv direct) is refused now, before the run's folder exists.
    routine = resolve(cfg.conv) if cfg.arch != "mlp" else None
    if cfg.micro_batch is not None:
        return cfg.micro_batch
    micro = CPU_MICRO_BATCH.get(routine, {}).get(cfg.arch)
    if micro and jax.default_backend() == "cpu" and per_device % micro == 0:
        return micro
    return per_device


def check_devices(cfg: TrainConfig, mesh: Mesh) -> None:
    """The batch must split evenly over the devices, and each device's share into chunks."""
    devices.check_divisible("--batch-size", cfg.batch_size, mesh)
    per_device = cfg.batch_size // mesh.size
    micro = micro_batch_size(cfg, mesh.size)
    if per_device % micro:
        raise UsageError(
            f"--micro-batch {micro} does not divide the {per_device} images each of the "
            f"{mesh.size} devices gets"
        )


def forward(cfg: TrainConfig, apply_fn: Callable) -> Callable:
    """``forward(params, images, index, key) -> logits`` in training mode: image j drops
    out with ``fold_in(key, index[j])`` (in each dropout layer), so the masks depend
    neither on the device count nor on the micro-batch."""

    def run(params, images, index, key):
        rngs = {"dropout": key} if cfg.dropout else {}
        return apply_fn({"params": params}, images, train=True, rngs=rngs, image_index=index)

    return run


def make_local_grads(cfg: TrainConfig, devices_in_mesh: int) -> Callable:
    """``local_grads(state, images, labels, step_key) -> (loss, correct, grads)`` inside
    ``shard_map``: this device's images accumulated over micro-batches under ``lax.scan``,
    then averaged (loss, gradient) or summed (correct count) over the devices."""
    loss_fn = LOSSES[cfg.loss]
    per_device = cfg.batch_size // devices_in_mesh
    micro = micro_batch_size(cfg, devices_in_mesh)
    chunks = per_device // micro

    def local_grads(state: TrainState, images, labels, step_key):
        run = forward(cfg, state.apply_fn)
        first = jax.lax.axis_index(devices.AXIS) * per_device

        def data_loss(params, images, labels, index):
            logits = run(params, images, index, step_key)
            loss = loss_fn(logits, jax.nn.one_hot(labels, logits.shape[-1]))
            return loss, jnp.sum(jnp.argmax(logits, -1) == labels)

        def chunk(i):  # the images of chunk i as a slice of this device's
            take = lambda x: jax.lax.dynamic_slice_in_dim(x, i * micro, micro)  # noqa: E731
            return take(images), take(labels), first + i * micro + jnp.arange(micro)

        value_and_grad = jax.value_and_grad(data_loss, has_aux=True)
        if chunks == 1:
            (loss, correct), grads = value_and_grad(state.params, *chunk(0))
        else:

            def accumulate(grad_sum, i):
                (loss, correct), grads = value_and_grad(state.params, *chunk(i))
                return jax.tree.map(jnp.add, grad_sum, grads), (loss, correct)

            grad_sum, (losses, corrects) = jax.lax.scan(
                accumulate, jax.tree.map(jnp.zeros_like, state.params), jnp.arange(chunks)
            )
            # Equal chunks: the mean of chunk means is the mean over this device's images.
            grads = jax.tree.map(lambda g: g / chunks, grad_sum)
            loss, correct = jnp.mean(losses), jnp.sum(corrects)
        # Equal shares: the mean over devices of their means is the batch mean.
        mean = functools.partial(jax.lax.pmean, axis_name=devices.AXIS)
        return mean(loss), jax.lax.psum(correct, devices.AXIS), jax.tree.map(mean, grads)

    return local_grads


def make_train_step(cfg: TrainConfig, mesh: Mesh | None = None) -> Callable:
    """``train_step(state, batch, key) -> (state, metrics)``, not yet jitted.

    ``batch`` is {"image": [B, 28, 28, 1] float32, "label": [B] int32}, split over the
    ``mesh`` (default: one device) on its leading axis; the state is replicated. ``key``
    is the run's dropout key: image i of step s draws its masks from
    ``fold_in(fold_in(key, s), i)`` (and Flax folds in each dropout layer's name). Each
    device accumulates the gradient of its images over micro-batches under ``lax.scan``;
    one ``pmean`` averages the devices' gradients (the gradient of the batch-mean loss, up
    to float32 rounding); the optimizer steps once per batch, the same on every device.
    """
    mesh = mesh or devices.data_mesh(1)
    local_grads = make_local_grads(cfg, mesh.size)

    def train_step(state: TrainState, batch: dict, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)
        loss, correct, grads = jax.shard_map(
            local_grads,
            mesh=mesh,
            in_specs=(P(), P(devices.AXIS), P(devices.AXIS), P()),
            out_specs=P(),
            check_vma=False,  # the custom-VJP convolutions carry no varying-axis types
        )(state, batch["image"], batch["label"], step_key)
        if cfg.l2:
            l2_grads = jax.grad(l2_penalty)(state.params, cfg.l2)
            grads = jax.tree.map(jnp.add, grads, l2_grads)
        state = state.apply_gradients(grads=grads)
        metrics = {
            "loss": loss,
            "accuracy": correct / cfg.batch_size,
            "grad_norm": optax.tree.norm(grads),
        }
        return state, metrics

    return train_step


def make_eval_step(cfg: TrainConfig, apply_fn: Callable, mesh: Mesh | None = None) -> Callable:
    """``eval_step(params, batch) -> {"loss_sum", "correct"}`` summed over the batch, whose
    leading axis is split over the ``mesh`` (default: one device). An optional
    ``batch["weight"]`` [B] of 0/1 leaves out padding rows."""
    mesh = mesh or devices.data_mesh(1)
    loss_fn = LOSSES[cfg.loss]
    micro = micro_batch_size(cfg, mesh.size)

    def local(params, images, labels, weight):
        n = images.shape[0]
        if n % micro == 0 and n > micro:
            # In chunks, like the train step: faster on CPU, the same logits.
            chunks = images.reshape(n // micro, micro, *images.shape[1:])
            logits = jax.lax.map(lambda x: apply_fn({"params": params}, x, train=False), chunks)
            logits = logits.reshape(n, -1)
        else:
            logits = apply_fn({"params": params}, images, train=False)
        targets = jax.nn.one_hot(labels, logits.shape[-1])
        losses = jax.vmap(lambda z, t: loss_fn(z[None], t[None]))(logits, targets)
        correct = (jnp.argmax(logits, -1) == labels) * weight
        return {
            "loss_sum": jax.lax.psum(jnp.sum(losses * weight), devices.AXIS),
            "correct": jax.lax.psum(jnp.sum(correct), devices.AXIS),
        }

    def eval_step(params, batch: dict):
        weight = batch.get("weight", jnp.ones(batch["label"].shape, jnp.float32))
        split = P(devices.AXIS)
        return jax.shard_map(
            local, mesh=mesh, in_specs=(P(), split, split, split), out_specs=P(), check_vma=False
        )(params, batch["image"], batch["label"], weight)

    return eval_step


def evaluate(
    eval_step: Callable,
    params,
    images,
    labels,
    batch_size: int,
    mesh: Mesh | None = None,
):
    """(mean loss, accuracy) over all of ``images`` (host arrays, the same in every
    process); the last short batch is kept. Each batch is padded with zero-weight rows to a
    multiple of the ``mesh``'s devices and split over them."""
    mesh = mesh or devices.data_mesh(1)
    images, labels = np.asarray(images), np.asarray(labels)
    n = images.shape[0]
    totals = []
    for i in range(0, n, batch_size):
        x, y = images[i : i + batch_size], labels[i : i + batch_size]
        pad = -len(y) % mesh.size
        weight = np.concatenate([np.ones(len(y), np.float32), np.zeros(pad, np.float32)])
        if pad:
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
            y = np.concatenate([y, np.zeros(pad, y.dtype)])
        batch = {"image": x, "label": y, "weight": weight}
        totals.append(eval_step(params, jax.tree.map(lambda a: devices.shard_rows(a, mesh), batch)))
        devices.pace(totals[-1], mesh)
    loss_sum = sum(float(devices.to_host(t["loss_sum"])) for t in totals)
    correct = sum(int(devices.to_host(t["correct"])) for t in totals)
    return loss_sum / n, correct / n


def _state_tree(state: TrainState) -> dict:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


def check_data(cfg: TrainConfig, mnist: data_lib.Mnist) -> None:
    """Refuse, before any work, a config that asks for more images than ``mnist`` has or
    a batch larger than the training images it uses (UsageError, one line)."""
    n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
    cli.check_count("--limit", cfg.limit, n_train, "training images")
    cli.check_count("--test-limit", cfg.test_limit, n_test, "test images")
    used = cfg.limit or n_train
    if cfg.batch_size > used:
        raise UsageError(
            f"--batch-size {cfg.batch_size} is more than the {used:,} training images used"
            + (" (--limit)" if cfg.limit else "")
        )


def check_data_source(directory: Path, before: str | None, now: str | None) -> None:
    """Refuse to continue, or reuse, a run in ``directory`` trained on other data
    (``Mnist.source`` then and now, when both are known)."""
    if now and before and before != now:
        raise ConfigMismatch(
            f"{directory} holds a run trained on {before} (now {now}); use another --out"
        )


def check_same_run(
    saved: dict, cfg: TrainConfig, directory: Path, data_source: str | None = None
) -> None:
    """Refuse to continue checkpoints of a run with another config (epochs aside) or
    trained on other data (``data_source`` as ``Mnist.source``, when both are known)."""
    check_data_source(directory, saved.get("data_source"), data_source)
    differ = TrainConfig.from_dict(saved).differences(cfg)
    if differ:
        listed = ", ".join(f"{k}={old!r} (now {new!r})" for k, (old, new) in differ.items())
        raise ConfigMismatch(
            f"{directory} holds a run with a different config: {listed}; use another --out"
        )


def check_keep_epochs(keep_epochs: Sequence[int], epochs: int) -> None:
    """Every epoch to keep a checkpoint of is one the run reaches (0 to ``epochs``)."""
    past = [e for e in keep_epochs if not 0 <= e <= epochs]
    if past:
        raise UsageError(
            f"--keep-epochs {','.join(map(str, past))}: the run has epochs 0 to {epochs} only"
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


def make_epoch(cfg: TrainConfig, mnist: data_lib.Mnist, apply_fn: Callable, mesh: Mesh):
    """``run_epoch(state, epoch, progress) -> (state, record)``: one shuffled pass over
    ``mnist``'s training images (the last partial batch left out), then the test set.
    ``state`` is replicated over ``mesh``; ``record`` is the epoch's metrics."""
    # The training images live on every device for the whole run (MNIST is small); each
    # device gathers its own rows of every batch there.
    train_x, train_y = devices.replicate(
        (data_lib.scale(mnist.train_images), mnist.train_labels), mesh
    )
    test_x, test_y = data_lib.scale(mnist.test_images), mnist.test_labels
    n = train_x.shape[0]
    _, data_key, dropout_key = run_keys(cfg.seed)
    train_step = jax.jit(make_train_step(cfg, mesh), donate_argnums=0)
    eval_step = jax.jit(make_eval_step(cfg, apply_fn, mesh))
    gather = jax.jit(lambda x, y, idx: (x[idx], y[idx]), out_shardings=devices.sharded(mesh))

    def run_epoch(state: TrainState, epoch: int, progress: cli.Progress):
        t0 = time.perf_counter()
        # Every process draws the same order; each hands over only its own rows.
        order = np.asarray(epoch_batches(data_key, epoch, n, cfg.batch_size))
        bar = progress(f"epoch {epoch}/{cfg.epochs}", len(order))
        step_metrics = []
        for idx in order:
            images, labels = gather(train_x, train_y, devices.shard_rows(idx, mesh))
            state, m = train_step(state, {"image": images, "label": labels}, dropout_key)
            step_metrics.append(m)
            devices.pace(m, mesh)  # simulated CPU devices must not run far ahead
            bar.update(1)
        bar.close()
        step_metrics = devices.to_host(jax.tree.map(lambda *xs: jnp.stack(xs), *step_metrics))
        seconds = time.perf_counter() - t0
        check_finite(epoch, cfg, loss=step_metrics["loss"], gradient=step_metrics["grad_norm"])
        test_loss, test_acc = evaluate(
            eval_step, state.params, test_x, test_y, cfg.eval_batch_size, mesh
        )
        check_finite(epoch, cfg, test_loss=test_loss)
        return state, {
            "epoch": epoch,
            "train_loss": float(step_metrics["loss"].mean()),
            "train_accuracy": float(step_metrics["accuracy"].mean()),
            "test_loss": test_loss,
            "test_accuracy": test_acc,
            "seconds": seconds,
            "images_per_second": order.size / seconds,
        }

    return run_epoch


def epoch_line(record: dict) -> str:
    """The line the trainer logs after an epoch."""
    return (
        f"epoch {record['epoch']:3d}  train loss {record['train_loss']:.4f}"
        f" acc {record['train_accuracy']:.4f}  test loss {record['test_loss']:.4f}"
        f" acc {record['test_accuracy']:.4f}  {record['seconds']:.1f}s"
    )


def train_and_evaluate(
    cfg: TrainConfig,
    mnist: data_lib.Mnist,
    out_dir: str | Path | None = None,
    *,
    progress: cli.Progress = cli.silent,
    log: Callable[[str], None] = print,
    mesh: Mesh | None = None,
    keep_epochs: Sequence[int] = (),
) -> tuple[TrainState, list[dict]]:
    """Train ``cfg.epochs`` epochs, evaluating on the test set after each.

    With ``out_dir``, a checkpoint follows every epoch and a rerun resumes from the
    last one; the two newest are kept, and those of ``keep_epochs`` for good (epoch 0:
    the initialization, saved before the first step). ``mesh``: the devices to split
    every batch over (default: one).
    ``progress(desc, total)``: a bar per epoch (:mod:`cnn_jax.cli`'s convention). Returns
    the final state (replicated over the mesh) and one dict of metrics per epoch.
    """
    mesh = mesh or devices.data_mesh(1)
    check_devices(cfg, mesh)
    check_data(cfg, mnist)
    check_keep_epochs(keep_epochs, cfg.epochs)
    mnist = data_lib.limit(mnist, cfg.limit, cfg.test_limit)
    state, start, history = initial_state(cfg), 0, []
    # The data source travels with the config: other data is another run.
    saved_config = {**cfg.to_dict(), "data_source": mnist.source} if mnist.source else cfg.to_dict()
    ckpt = RunCheckpoints(out_dir, keep_steps=keep_epochs) if out_dir is not None else None
    try:
        if ckpt is not None:
            found = resume(
                ckpt,
                _state_tree(state),
                check_config=lambda saved: check_same_run(saved, cfg, ckpt.directory, mnist.source),
                log=log,
                epochs=cfg.epochs,
            )
            if found is not None:
                state = state.replace(**found.state)  # numpy: replicated below
                start, history = found.step, list(found.history)
        if ckpt is not None and 0 in keep_epochs and start == 0 and 0 not in ckpt.all_steps():
            ckpt.save(0, _state_tree(state), history, saved_config)
        if ckpt is not None and (
            lost := [e for e in keep_epochs if e < start and e not in ckpt.all_steps()]
        ):
            which = (
                f"epochs {', '.join(map(str, lost))} were"
                if len(lost) > 1
                else f"epoch {lost[0]} was"
            )
            log(f"{which} not kept by the run resumed here")
        run_epoch = make_epoch(cfg, mnist, state.apply_fn, mesh)
        state = devices.replicate(state, mesh)
        for epoch in range(start + 1, cfg.epochs + 1):
            state, record = run_epoch(state, epoch, progress)
            history.append(record)
            log(epoch_line(record))
            if ckpt is not None:
                ckpt.save(epoch, devices.to_host(_state_tree(state)), history, saved_config)
    finally:
        if ckpt is not None:
            ckpt.close()
    return state, history
