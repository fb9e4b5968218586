"""Nielsen's mini-batch SGD for MLPs, as ``lax.scan`` over epochs and steps, vmapped over
configurations (learning rate, L2 coefficient, cost, seed) in one jit-compiled call.

One step on a mini-batch of m examples is w ← w − η·∇(C_batch + coeff·Σ_kernels w²),
where C_batch is the batch-mean cost: Nielsen's w ← (1 − ηλ/n)·w − (η/m)·Σ_x ∇C_x with
``coeff = λ/(2n)`` (:func:`cnn_jax.nn.losses.nielsen_coeff`). Every epoch shuffles with
:func:`cnn_jax.training.batches.epoch_batches` (``fold_in(shuffle_key, epoch)``), which drops
the last partial batch.
Long runs go in blocks of epochs, with a verified checkpoint after each block to resume from.
A configuration that diverges is recorded, not raised (:mod:`cnn_jax.training.divergence`):
its metrics read NaN from the epoch it diverged, the others train on; only a sweep whose
every configuration diverged raises :class:`Diverged`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import data as data_lib
from cnn_jax.cli import Progress, silent
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn import losses
from cnn_jax.nn.activations import SIGMOID_SATURATION_Z
from cnn_jax.nn.mlp import MLPSpec, param_shapes
from cnn_jax.nn.models import recorded
from cnn_jax.nn.tree import layer_names, named_leaves
from cnn_jax.training import devices
from cnn_jax.training.batches import epoch_batches
from cnn_jax.training.checkpoint import RunCheckpoints, resume, state_digest
from cnn_jax.training.divergence import diverged, require_survivor


class Hyper(NamedTuple):
    """One row per configuration: leaves [C]."""

    lr: jax.Array  # η
    l2_coeff: jax.Array  # coeff in coeff·Σ w² (λ/2n for Nielsen's λ)
    cost: jax.Array  # int: a cost id, index into losses.COST_NAMES


def hypers(lr, l2_coeff, cost) -> Hyper:
    """Lists (or scalars, broadcast) -> :class:`Hyper` with leaves [C]; cost by name."""
    names = [cost] if isinstance(cost, str) else list(cost)
    ids = jnp.asarray([losses.cost_id(n) for n in names], jnp.int32)
    lr, l2 = jnp.atleast_1d(jnp.asarray(lr, jnp.float32)), jnp.atleast_1d(jnp.asarray(l2_coeff))
    c = max(lr.shape[0], l2.shape[0], ids.shape[0])
    return Hyper(*(jnp.broadcast_to(v, (c,)) for v in (lr, l2.astype(jnp.float32), ids)))


class EpochMetrics(NamedTuple):
    """After each epoch, without the L2 term: leaves [..., E]."""

    train_cost: jax.Array
    train_accuracy: jax.Array
    test_cost: jax.Array
    test_accuracy: jax.Array


def cost_and_accuracy(model, params, images, targets, cost) -> tuple[jax.Array, jax.Array]:
    """(batch-mean cost, accuracy) on images [N, ...] and one-hot targets [N, K]; ``cost`` is
    a cost id (may be traced)."""
    logits = model.apply({"params": params}, images)
    return losses.cost_by_id(cost, logits, targets), losses.accuracy(
        logits, jnp.argmax(targets, -1)
    )


def train_epoch(model, params, hyper: Hyper, train, key, epoch, *, batch_size: int):
    """One shuffled pass of mini-batch SGD. train: (images [N, ...], targets [N, K]);
    key: this configuration's key (split into shuffle and dropout keys)."""
    images, targets = train
    shuffle_key, dropout_key = jax.random.split(key)
    batches = epoch_batches(shuffle_key, epoch, images.shape[0], batch_size)  # [steps, m]
    steps = batches.shape[0]

    def step(p, inputs):
        i, idx = inputs
        rng = jax.random.fold_in(dropout_key, epoch * steps + i)

        def loss(q):
            logits = model.apply({"params": q}, images[idx], train=True, rngs={"dropout": rng})
            return losses.cost_by_id(hyper.cost, logits, targets[idx]) + losses.l2_penalty(
                q, hyper.l2_coeff
            )

        grads = jax.grad(loss)(p)
        return jax.tree.map(lambda w, g: w - hyper.lr * g, p, grads), None

    params, _ = jax.lax.scan(step, params, (jnp.arange(steps), batches))
    return params


def train_epochs(model, params, hyper, key, train, test, first_epoch, *, epochs, batch_size):
    """``epochs`` epochs from epoch index ``first_epoch``; metrics after each: [epochs]."""

    def one(p, epoch):
        p = train_epoch(model, p, hyper, train, key, epoch, batch_size=batch_size)
        return p, EpochMetrics(
            *cost_and_accuracy(model, p, *train, hyper.cost),
            *cost_and_accuracy(model, p, *test, hyper.cost),
        )

    return jax.lax.scan(one, params, first_epoch + jnp.arange(epochs))


# How a sweep runs its configurations (the leading axis C of params, hyper and keys):
# "map" trains one after another (``lax.map``), so every matmul of a step is a plain
# [m, n_in] x [n_in, n_out] dot that XLA:CPU hands to its fast matmul library; "vmap" trains
# them side by side, which turns every matmul into a dot_general with a batch dimension that
# XLA:CPU runs far below its matmul speed (even for C = 1). Both give the same numbers up to
# float rounding. "map" wins where one configuration's matmuls are large enough to run well
# alone; for narrow networks (Nielsen's 784-30-10) "vmap"'s batched small matmuls are faster
# than many tiny ones in turn. :func:`engine_for` picks by the largest weight matrix.
ENGINES = ("map", "vmap")
MAP_MIN_KERNEL = 200_000  # entries of the largest weight matrix from which "map" is chosen

# Without region analysis, XLA:CPU's copy insertion copies every carried weight matrix in
# each step of the scan: the backward matmul that reads W and the update that overwrites W
# do not depend on each other, so it keeps the old W apart. Region analysis sees that the
# loop body's reads end before the write and updates W in place. An XLA debug option, so
# other backends ignore it.
COMPILER_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}


def engine_for(net: MLPSpec) -> str:
    """The sweep engine for ``net``: on a CPU, "map" when its largest weight matrix has at
    least :data:`MAP_MIN_KERNEL` entries (Glorot's 5 x 1,000, the 3 x 500 fine-tuning), else
    "vmap"; on a GPU or TPU always "vmap", whose batched matmuls keep the accelerator busy
    where "map" would run the configurations one at a time."""
    if jax.default_backend() != "cpu":
        return "vmap"
    largest = max(a * b for a, b in zip(net.sizes[:-1], net.sizes[1:], strict=True))
    return "map" if largest >= MAP_MIN_KERNEL else "vmap"


def each_config(f: Callable, split: tuple, *shared, engine: str = "map"):
    """``f(*config, *shared)`` for each configuration of ``split`` (a tuple of trees whose
    leaves share a leading axis C), stacked on a leading axis C; ``engine`` as in
    :data:`ENGINES`."""
    if engine == "vmap":
        return jax.vmap(lambda *config: f(*config, *shared))(*split)
    if engine == "map":
        return jax.lax.map(lambda config: f(*config, *shared), split)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


@functools.partial(
    jax.jit,
    static_argnames=("net", "epochs", "batch_size", "engine"),
    compiler_options=COMPILER_OPTIONS,
)
def _train_block(
    params, hyper, keys, train, test, first_epoch, *, net, epochs, batch_size, engine=None
):
    engine = engine or engine_for(net)

    def one(p, h, k, train, test, first_epoch):
        return train_epochs(
            net.model(), p, h, k, train, test, first_epoch, epochs=epochs, batch_size=batch_size
        )

    def configs(split, train, test, first_epoch):  # this device's configurations
        return each_config(one, split, train, test, first_epoch, engine=engine)

    return devices.sweep(configs, (params, hyper, keys), train, test, first_epoch)


@functools.partial(
    jax.jit,
    static_argnames=("net", "batch_size", "engine"),
    donate_argnums=0,
    compiler_options=COMPILER_OPTIONS,
)
def sgd_epoch(params, hyper, keys, train, epoch, *, net, batch_size, engine=None):
    """One epoch of :func:`train_epoch` for every configuration (leaves [C, ...]), without
    the per-epoch metrics: what a sweep's updates cost (experiments/benchmark.py). ``engine``
    (see :data:`ENGINES`) defaults to :func:`engine_for` ``(net)``."""
    engine = engine or engine_for(net)

    def one(p, h, k, train, epoch):
        return train_epoch(net.model(), p, h, train, k, epoch, batch_size=batch_size)

    return each_config(one, (params, hyper, keys), train, epoch, engine=engine)


# ----------------------------------------------------------------------------- checkpoints


def _checkpoints(directory: Path, *, read_only: bool = False) -> RunCheckpoints:
    """The sweep's verified checkpoints (step = epochs done) directly in ``directory``."""
    return RunCheckpoints(directory, subdir=".", read_only=read_only)


def load_checkpoint(directory: str | Path):
    """(params, metrics, epoch, run description) of the newest intact checkpoint in
    ``directory``, or None when there is none; a corrupt newer one is skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    with _checkpoints(directory, read_only=True) as ckpt:
        found = ckpt.restore_latest_intact()
    if found is None:
        return None
    configs = len(found.config["train_keys"])
    return (
        found.state["params"],
        _restored_metrics(found.state["metrics"], configs),
        found.step,
        found.config,
    )


def _resume(ckpt: RunCheckpoints, params_like, run: dict, epochs: int, log):
    """(params, metrics, epoch) from the newest intact checkpoint of this very run (see
    :func:`cnn_jax.training.checkpoint.resume`), or None when there is none."""

    def same_run(saved: dict) -> None:
        if saved != run:
            raise UsageError(
                f"{ckpt.directory} holds checkpoints of another run (other flags or data); "
                "use another --out"
            )

    found = resume(ckpt, check_config=same_run, log=log, epochs=epochs)
    if found is None:
        return None
    params = jax.tree.map(
        lambda like, p: jnp.asarray(p, like.dtype), params_like, found.state["params"]
    )
    return params, _restored_metrics(found.state["metrics"], len(run["train_keys"])), found.step


def _start_params(net: MLPSpec, params, init_keys: jax.Array, image_shape):
    """The given parameters (checked against the net), else a draw from ``init_keys``."""
    if params is None:
        return net.init_params(init_keys, image_shape)
    return _given_params(net, params, len(init_keys), image_shape)


def run_sweep(
    net: MLPSpec,
    hyper: Hyper,
    init_keys: jax.Array,
    train_keys: jax.Array,
    train: tuple[jax.Array, jax.Array],
    test: tuple[jax.Array, jax.Array],
    *,
    epochs: int,
    batch_size: int,
    block: int | None = None,
    checkpoint: str | Path | None = None,
    progress: Progress | None = None,
    desc: str = "sweep",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    params=None,
):
    """Train C configurations at once: hyper leaves [C], init_keys and train_keys [C].

    train/test: (images [N, 28, 28, 1], one-hot targets [N, 10]) on the device. Runs in
    blocks of ``block`` epochs (all at once when None); with ``checkpoint`` (a folder)
    saves a verified checkpoint after each block and resumes from the newest intact one
    (same configurations, keys, data size and batch size; ``epochs`` may grow, which extends
    a run); a checkpoint of another run is refused (UsageError), a corrupt one skipped and
    reported to ``log``. ``params`` (leaves [C, ...], the net's parameter tree) starts the
    sweep from given parameters, e.g. a pretrained stack, instead of drawing them from
    ``init_keys`` (then only named in the checkpoint's run description).
    ``progress(desc, total)`` makes the bar (:mod:`cnn_jax.cli`'s convention, default
    silent), moved on after each block. Returns (params [C, ...],
    {"train_cost", "train_accuracy", "test_cost", "test_accuracy"}: numpy [C, E], with
    ``DIVERGED_EPOCH`` and ``DIVERGED_CAUSE``: [C] int). A configuration whose cost or
    weights stop being finite is recorded there (see :func:`divergences`), its metrics NaN
    from that epoch on and its parameters zero; the others train on. Raises
    :class:`Diverged` only when every configuration diverged.
    """
    given = params is not None
    params = _start_params(net, params, init_keys, train[0].shape[1:])
    done, metrics = 0, _empty_metrics(len(init_keys))
    ckpt = None
    if checkpoint is not None:
        ckpt = _checkpoints(Path(checkpoint))
        run = _run_description(net, hyper, init_keys, train_keys, train, batch_size, given, params)
        restored = _resume(ckpt, params, run, epochs, log)
        if restored is not None:
            params, metrics, done = restored
    bar = (progress or silent)(desc, epochs)
    bar.update(done)
    try:
        while done < epochs:
            n = min(block or epochs, epochs - done)
            params, metrics = _sweep_block(
                params, metrics, hyper, train_keys, train, test, done, n, net, batch_size
            )
            done += n
            if ckpt is not None:
                state = {"params": params, "metrics": _storable(metrics)}
                ckpt.save(done, state, {"epochs": done}, run)
            bar.update(n)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    return params, metrics


def _run_description(net, hyper, init_keys, train_keys, train, batch_size, given, params):
    """What makes two sweeps the same run, as JSON (tuples become lists, as when read back)."""
    run = {
        "net": dataclasses.asdict(net),
        "hyper": [np.asarray(h).tolist() for h in hyper],
        "init_keys": np.asarray(jax.random.key_data(init_keys)).tolist(),
        "train_keys": np.asarray(jax.random.key_data(train_keys)).tolist(),
        "n_train": int(train[0].shape[0]),
        "batch_size": batch_size,
    }
    if given:  # given parameters make another run than the same keys' draw would
        run["params_sha256"] = state_digest(params)
    return json.loads(json.dumps(run))


def _sweep_block(params, metrics, hyper, train_keys, train, test, done, n, net, batch_size):
    """``n`` more epochs after ``done``: (params, metrics with n more columns). A
    configuration that diverges in the block is recorded in the metrics (NaN from its
    epoch on) and its parameters set to zero, so nothing non-finite is kept; raises
    Diverged when every configuration has diverged."""
    params, new = _train_block(
        params, hyper, train_keys, train, test, done, net=net, epochs=n, batch_size=batch_size
    )
    new = jax.device_get(new)
    epoch, cause = _first_non_finite(new, params, done)
    fresh = (metrics[DIVERGED_EPOCH] == 0) & (epoch > 0)
    diverged_epoch = np.where(fresh, epoch, metrics[DIVERGED_EPOCH]).astype(np.int32)
    diverged_cause = np.where(fresh, cause, metrics[DIVERGED_CAUSE]).astype(np.int32)
    if (diverged_epoch > 0).all():
        config = int(np.argmax(diverged_epoch == diverged_epoch.min()))
        lr, cost = float(hyper.lr[config]), losses.COST_NAMES[int(hyper.cost[config])]
        raise Diverged(
            f"configuration {config} (lr={lr:g}, cost={cost}) has a non-finite cost in epoch "
            f"{int(diverged_epoch[config])}; lower the learning rate"
        )
    gone = diverged_epoch > 0
    if gone.any():
        params = jax.tree.map(
            lambda p: jnp.where(gone.reshape(-1, *[1] * (p.ndim - 1)), 0.0, p).astype(p.dtype),
            params,
        )
    metrics = {
        k: np.concatenate([metrics[k], np.asarray(getattr(new, k))], axis=1)
        for k in EpochMetrics._fields
    }
    metrics[DIVERGED_EPOCH], metrics[DIVERGED_CAUSE] = diverged_epoch, diverged_cause
    return params, _masked(metrics)


def _given_params(net: MLPSpec, params, configs: int, input_shape):
    """``params`` as float32 arrays, checked against the net's parameter tree with a leading
    axis of ``configs``; a mismatch is a ValueError naming the first leaf that differs."""
    shapes = {k: v.shape for k, v in named_leaves(param_shapes(net.model(), input_shape)).items()}
    given = named_leaves(params)
    if list(given) != list(shapes):
        raise ValueError(f"params has leaves {list(given)}, {net.name} has {list(shapes)}")
    for name, leaf in given.items():
        if tuple(leaf.shape) != (configs, *shapes[name]):
            raise ValueError(
                f"params {name} has shape {tuple(leaf.shape)}, expected {(configs, *shapes[name])}"
            )
    return jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), params)


def _first_non_finite(new: EpochMetrics, params, done: int):
    """Per configuration, the first epoch (1-based, 0 for none) of this block whose training
    cost, or by whose end the parameters, are not finite (a sigmoid network's cost can stay
    finite while its weights overflow), and its cause (an index into ``CAUSES``): [C], [C]."""
    bad = ~np.isfinite(np.asarray(new.train_cost))  # [C, n]
    params_ok = np.stack(
        [
            np.isfinite(np.asarray(leaf)).reshape(leaf.shape[0], -1).all(1)
            for leaf in jax.tree.leaves(params)
        ]
    ).all(0)  # [C]
    cost_bad = bad.any(1)
    bad[:, -1] |= ~params_ok
    epoch = np.where(bad.any(1), done + np.argmax(bad, axis=1) + 1, 0)
    cause = np.where(cost_bad, 1, np.where(bad.any(1), 2, 0))
    return epoch, cause


# ----------------------------------------------------------------------------- divergence

DIVERGED_EPOCH = "diverged_epoch"  # metrics key: [C] int, first non-finite epoch, 0 = none
DIVERGED_CAUSE = "diverged_cause"  # metrics key: [C] int, an index into CAUSES
CAUSES = ("", "non-finite training cost", "non-finite weights")


def _empty_metrics(configs: int) -> dict:
    """The metrics of a sweep before its first epoch."""
    metrics = {k: np.zeros((configs, 0), np.float32) for k in EpochMetrics._fields}
    metrics[DIVERGED_EPOCH] = np.zeros(configs, np.int32)
    metrics[DIVERGED_CAUSE] = np.zeros(configs, np.int32)
    return metrics


def _masked(metrics: dict) -> dict:
    """``metrics`` with NaN in every epoch from a configuration's divergence on."""
    epochs = np.arange(1, metrics["train_cost"].shape[1] + 1)
    first = metrics[DIVERGED_EPOCH]
    after = (first[:, None] > 0) & (epochs[None, :] >= first[:, None])  # [C, E]
    return {
        k: np.where(after, np.nan, v).astype(v.dtype) if k in EpochMetrics._fields else v
        for k, v in metrics.items()
    }


def _storable(metrics: dict) -> dict:
    """``metrics`` with the NaN of diverged configurations as 0 (a checkpoint holds only
    finite values; :func:`_restored_metrics` puts the NaN back from ``DIVERGED_EPOCH``)."""
    return {k: np.nan_to_num(v, nan=0.0) if v.dtype.kind == "f" else v for k, v in metrics.items()}


def _restored_metrics(saved: dict, configs: int) -> dict:
    """A checkpoint's metrics as a sweep holds them (older checkpoints have no divergence
    record: nothing diverged in them)."""
    metrics = {**_empty_metrics(configs), **{k: np.asarray(v) for k, v in saved.items()}}
    return _masked(metrics)


def _shortest(value) -> float:
    """A float32 as the shortest decimal that reads back as it (0.3, not 0.30000001)."""
    return float(str(np.float32(value)))


def divergences(metrics: dict, hyper: Hyper) -> list[dict]:
    """The :func:`cnn_jax.training.divergence.diverged` record of every configuration that
    diverged in a sweep (``metrics`` as :func:`run_sweep` returns them), config order."""
    epochs, causes = metrics[DIVERGED_EPOCH], metrics[DIVERGED_CAUSE]
    return [
        diverged(
            config=c,
            epoch=int(epochs[c]),
            why=CAUSES[int(causes[c])],
            lr=_shortest(hyper.lr[c]),
            l2_coeff=_shortest(hyper.l2_coeff[c]),
            cost=losses.COST_NAMES[int(hyper.cost[c])],
        )
        for c in np.nonzero(epochs)[0].tolist()
    ]


def row_survivors(
    metrics: dict, hyper: Hyper, configs: Sequence[int], row: str, hint: str
) -> tuple[list[int], list[dict]]:
    """The configurations of one row of a sweep (indices ``configs``) that did not diverge,
    and the :func:`divergences` records of those that did. A row with none left raises
    :class:`Diverged` (one line naming ``row``, its first diverged configuration, ``hint``)."""
    records = [r for r in divergences(metrics, hyper) if r["config"] in set(configs)]
    require_survivor(row, records, len(configs), hint)
    gone = {r["config"] for r in records}
    return [c for c in configs if c not in gone], records


def curves(metrics: dict, index: int) -> dict:
    """Configuration ``index``'s per-epoch metrics as lists of floats (no divergence keys)."""
    return {k: np.asarray(metrics[k][index], np.float64).tolist() for k in EpochMetrics._fields}


def device_data(mnist: data_lib.Mnist, images: int | None = None):
    """((train images, one-hot targets), (test images, one-hot targets)) on the device, the
    first ``images`` training images (all when None), scaled to [0, 1]."""

    return (
        to_device(mnist.train_images[:images], mnist.train_labels[:images]),
        to_device(mnist.test_images, mnist.test_labels),
    )


def to_device(images, labels):
    """(images scaled to [0, 1], one-hot targets [N, 10]) as device arrays."""
    return jnp.asarray(data_lib.scale(images)), jnp.asarray(data_lib.one_hot(labels))


def summary(metrics: dict, index: int) -> dict:
    """Final and best test accuracy (with its epoch, 1-based) of configuration ``index``."""
    test = np.asarray(metrics["test_accuracy"][index], np.float64)
    train = np.asarray(metrics["train_accuracy"][index], np.float64)
    best = int(np.argmax(test))
    return {
        "final_test_accuracy": float(test[-1]),
        "best_test_accuracy": float(test[best]),
        "best_epoch": best + 1,
        "final_train_accuracy": float(train[-1]),
        "best_train_accuracy": float(train.max()),
    }


# ----------------------------------------------------------------------------- mechanism


def preactivations(model, params, images) -> dict[str, jax.Array]:
    """z of every dense layer, input side first: {"dense1": [N, width], ...} (the MLP's
    sown "denseI" taps; the last is the output layer)."""
    _, state = model.apply({"params": params}, images, mutable=["intermediates"])
    taps = recorded(state["intermediates"])
    return {name: taps[name] for name in layer_names(params)}


ABS_Z_BINS = np.linspace(0.0, 20.0, 41)  # |z| histogram edges; the last bin takes |z| > 20
SLOPE_BINS = np.linspace(0.0, 0.25, 26)  # σ'(z) histogram edges


def saturation_stats(z: np.ndarray) -> dict:
    """How far into σ's flat tails the pre-activations z (any shape) sit."""
    z = np.abs(np.asarray(z, np.float64)).ravel()
    e = np.exp(-z)  # z >= 0: underflows to 0 quietly, never overflows
    slope = e / (1.0 + e) ** 2  # σ'(z) = σ(1 − σ), even in z
    counts, _ = np.histogram(np.minimum(z, ABS_Z_BINS[-1]), ABS_Z_BINS)
    slope_counts, _ = np.histogram(slope, SLOPE_BINS)
    return {
        "abs_z_median": float(np.median(z)),
        "abs_z_p90": float(np.quantile(z, 0.9)),
        "abs_z_mean": float(z.mean()),
        "slope_mean": float(slope.mean()),
        "fraction_saturated": float(np.mean(z > SIGMOID_SATURATION_Z)),
        "abs_z_hist": (counts / z.size).tolist(),
        "slope_hist": (slope_counts / z.size).tolist(),
    }


def layer_mechanism(net: MLPSpec, params, images) -> dict:
    """Per layer (input side first): the kernel's Frobenius norm and :func:`saturation_stats`
    of z on ``images``. params: one configuration's parameters."""
    zs = jax.device_get(preactivations(net.model(), params, images))
    kernels = [v for k, v in named_leaves(params).items() if k.endswith("/kernel")]
    return {
        name: {"kernel_norm": float(jnp.linalg.norm(w)), **saturation_stats(z)}
        for (name, z), w in zip(zs.items(), kernels, strict=True)
    }
