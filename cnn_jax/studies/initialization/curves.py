"""Training curves: plain mini-batch SGD with the layer statistics and the gradient
variances recorded every few updates (the paper's Figures 2–4 and Section 4.3)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from cnn_jax.nn.mlp import MLPSpec, draw_params
from cnn_jax.studies.initialization.config import Study
from cnn_jax.studies.initialization.network_stats import layer_stats
from cnn_jax.training.batches import epoch_batches


def sgd_step(net: MLPSpec, params, images, targets, lr):
    """One step of plain SGD on the batch-mean cost: the engine's update
    (:func:`cnn_jax.training.sgd.train_epoch`) without dropout or L2."""

    def loss(p):
        return net.cost_fn(net.model().apply({"params": p}, images), targets)

    grads = jax.grad(loss)(params)
    return jax.tree.map(lambda w, g: w - lr * g, params, grads)


def train_recorded(
    net: MLPSpec,
    params,
    key,
    lr,
    train,
    probe,
    *,
    epochs,
    batch_size,
    every,
    record: Callable = layer_stats,
):
    """Mini-batch SGD for ``epochs`` shuffled epochs (last partial batch dropped), recording
    ``record(net, params, *probe)`` (default :func:`layer_stats`) on ``probe`` (images,
    one-hot targets) at init and after every ``every`` updates, which must divide the
    updates per epoch. Pure: vmaps over (params, key) for seeds.

    Returns (final params, {stat: [R, ...]}) with R = 1 + epochs·(updates per epoch)/every."""
    images, targets = train
    steps = images.shape[0] // batch_size
    if steps % every:
        raise ValueError(f"every={every} must divide the {steps} updates per epoch")

    def step(p, idx):
        return sgd_step(net, p, images[idx], targets[idx], lr), None

    def chunk(p, idx):  # idx [every, B]
        p, _ = jax.lax.scan(step, p, idx)
        return p, record(net, p, *probe)

    def epoch(p, e):
        batches = epoch_batches(key, e, images.shape[0], batch_size)
        batches = batches.reshape(steps // every, every, batch_size)
        return jax.lax.scan(chunk, p, batches)

    first = record(net, params, *probe)
    params, records = jax.lax.scan(epoch, params, jnp.arange(epochs))
    records = jax.tree.map(
        lambda r, f: jnp.concatenate([f[None], r.reshape(-1, *r.shape[2:])]), records, first
    )
    return params, records


@functools.partial(jax.jit, static_argnames=("net", "epochs", "batch_size", "every"))
def _train_recorded(params, key, lr, train, probe, *, net, epochs, batch_size, every):
    _, records = train_recorded(
        net, params, key, lr, train, probe, epochs=epochs, batch_size=batch_size, every=every
    )
    return records


def training_curves(net: MLPSpec, init_key, train_key, lr, train, probe, *, study: Study):
    """One run of :func:`train_recorded` from the init drawn with ``init_key``: numpy."""
    params = jax.tree.map(lambda x: x[0], draw_params(net.model(), init_key[None]))
    return jax.device_get(
        _train_recorded(
            params,
            train_key,
            jnp.float32(lr),
            train,
            probe,
            net=net,
            epochs=study.curve_epochs,
            batch_size=study.batch_size,
            every=study.record_every,
        )
    )
