"""The greedy layer-wise methods other than the RBM (:mod:`.rbm`): autoencoders, denoising
autoencoders and Bengio et al. 2007's supervised greedy layers, each trained by plain SGD on
one layer at a time (:func:`sgd_layer`), and the hand-off of a trained stack to the MLP's
parameters (:func:`to_mlp_params`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_jax.nn.tree import layer_names
from cnn_jax.studies.pretraining import rbm as rbm_lib
from cnn_jax.training.batches import epoch_batches

# ----------------------------------------------------------------------------- SGD on a layer


@dataclasses.dataclass(frozen=True)
class LayerSGD:
    """Plain mini-batch SGD with momentum for one greedy layer."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.0


def sgd_layer(loss: Callable, params, data: tuple, key: jax.Array, opt: LayerSGD, monitor):
    """Minimise mean ``loss(params, batch, key)`` over data (arrays [N, ...]) by SGD.

    Shuffles each epoch with ``permutation(fold_in(key, epoch))``; step i's key is
    ``fold_in(key', i)``. Returns (params, ``monitor(params)`` before training and after each
    epoch [epochs + 1]). Call inside jit (the loop is two ``lax.scan``s)."""
    n = data[0].shape[0]
    steps = n // opt.batch_size
    shuffle_key, step_key = jax.random.split(key)
    tx = optax.sgd(opt.lr, momentum=opt.momentum or None)

    def step(carry, inputs):
        p, state = carry
        index, idx = inputs
        batch = tuple(d[idx] for d in data)
        grads = jax.grad(loss)(p, batch, jax.random.fold_in(step_key, index))
        updates, state = tx.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    def epoch(carry, e):
        batches = epoch_batches(shuffle_key, e, n, opt.batch_size)
        carry, _ = jax.lax.scan(step, carry, (e * steps + jnp.arange(steps), batches))
        return carry, monitor(carry[0])

    before = monitor(params)
    (params, _), history = jax.lax.scan(epoch, (params, tx.init(params)), jnp.arange(opt.epochs))
    return params, jnp.concatenate([before[None], history])


def sigmoid_uniform(key: jax.Array, fan_in: int, fan_out: int) -> jax.Array:
    """U(±4·√(6/(fan_in + fan_out))): Glorot's normalized range, ×4 for the sigmoid, as the
    LISA deep-learning tutorials start their autoencoders and hidden layers."""
    bound = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, (fan_in, fan_out), minval=-bound, maxval=bound)


# ----------------------------------------------------------------------------- autoencoders


class AEParams(NamedTuple):
    """One autoencoder layer: encoder weights [V, H] and hidden_bias [H] (kept for the
    network), visible_bias [V], and decoder [H, V] (None when tied: the decoder is Wᵀ)."""

    weights: jax.Array
    hidden_bias: jax.Array
    visible_bias: jax.Array
    decoder: jax.Array | None = None


def init_autoencoder(key: jax.Array, visible: int, hidden: int, *, tied: bool) -> AEParams:
    enc_key, dec_key = jax.random.split(key)
    decoder = None if tied else sigmoid_uniform(dec_key, hidden, visible)
    return AEParams(
        sigmoid_uniform(enc_key, visible, hidden),
        jnp.zeros((hidden,)),
        jnp.zeros((visible,)),
        decoder,
    )


def encode(params, x: jax.Array) -> jax.Array:
    """σ(xW + c): [B, V] -> [B, H] (AEParams or a supervised layer)."""
    return jax.nn.sigmoid(rbm_lib.add_bias(x @ params.weights, params.hidden_bias))


def mask(key: jax.Array, x: jax.Array, corruption: float) -> jax.Array:
    """Masking noise: each input set to 0 with probability ``corruption``."""
    # No shortcut for 0: ``corruption`` may be traced, so the plain and the denoising
    # autoencoder share one compiled trainer (at 0 every input is kept).
    return x * jax.random.bernoulli(key, 1.0 - corruption, x.shape).astype(x.dtype)


def reconstruction_cost(params: AEParams, x: jax.Array, key: jax.Array, corruption: float):
    """Mean over x [B, V] of the cross-entropy Σ_i −[x_i log r_i + (1 − x_i) log(1 − r_i)]
    between the clean input and the reconstruction r of its masked copy."""
    h = encode(params, mask(key, x, corruption))
    decoder = params.weights.T if params.decoder is None else params.decoder
    logits = rbm_lib.add_bias(h @ decoder, params.visible_bias)
    return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), -1))


@functools.partial(jax.jit, static_argnames=("opt",))
def train_autoencoder(params: AEParams, x, key, *, opt: LayerSGD, corruption: float = 0.0):
    """SGD on :func:`reconstruction_cost` of masked inputs over x [N, V]. Returns (params,
    the clean reconstruction cost on x before training and after each epoch [epochs + 1])."""
    return sgd_layer(
        lambda p, batch, k: reconstruction_cost(p, batch[0], k, corruption),
        params,
        (x,),
        key,
        opt,
        monitor=lambda p: reconstruction_cost(p, x, key, 0.0),
    )


def autoencoder_layer(x, key, layer: int, width: int, opt: LayerSGD, *, corruption=0.0, tied=True):
    """Layer ``layer`` (0-based) of :func:`autoencoder_stack`: an autoencoder of ``width``
    hidden units drawn and trained on x [N, V] with keys from ``fold_in(key, layer)``."""
    init_key, train_key = jax.random.split(jax.random.fold_in(key, layer))
    params = init_autoencoder(init_key, x.shape[-1], width, tied=tied)
    return train_autoencoder(params, x, train_key, opt=opt, corruption=corruption)


def autoencoder_stack(x, key, hidden: tuple[int, ...], opt: LayerSGD, *, corruption=0.0, tied=True):
    """Greedy: autoencoder l learns to reconstruct the codes of layers 1..l−1 from x [N, 784].
    Returns (one AEParams per layer, clean reconstruction cost per epoch per layer)."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        params, cost = autoencoder_layer(
            x, key, layer, width, opt, corruption=corruption, tied=tied
        )
        stack.append(params)
        history.append(cost)
        x = encode(params, x)
    return stack, history


# ----------------------------------------------------------------------------- supervised greedy


class SupervisedLayer(NamedTuple):
    """A hidden layer being trained greedily (kept) with its temporary softmax head (dropped)."""

    weights: jax.Array  # [V, H]
    hidden_bias: jax.Array  # [H]
    head_weights: jax.Array  # [H, 10]
    head_bias: jax.Array  # [10]


def supervised_cost(params: SupervisedLayer, x, targets) -> jax.Array:
    """Softmax cross-entropy of the temporary head on σ(xW + c); targets one-hot [B, 10]."""
    logits = rbm_lib.add_bias(encode(params, x) @ params.head_weights, params.head_bias)
    return jnp.mean(optax.softmax_cross_entropy(logits, targets))


@functools.partial(jax.jit, static_argnames=("opt",))
def train_supervised_layer(params: SupervisedLayer, x, targets, key, *, opt: LayerSGD):
    """SGD on :func:`supervised_cost`; returns (params, full-data cost [epochs + 1])."""
    return sgd_layer(
        lambda p, batch, k: supervised_cost(p, *batch),
        params,
        (x, targets),
        key,
        opt,
        monitor=lambda p: supervised_cost(p, x, targets),
    )


def supervised_layer(x, targets, key, layer: int, width: int, opt: LayerSGD):
    """Layer ``layer`` (0-based) of :func:`supervised_stack`, drawn and trained with
    ``fold_in(key, layer)`` on x [N, V] and one-hot targets [N, 10]."""
    key_w = jax.random.fold_in(key, layer)
    params = SupervisedLayer(
        sigmoid_uniform(key_w, x.shape[-1], width),
        jnp.zeros((width,)),
        jnp.zeros((width, targets.shape[-1])),
        jnp.zeros((targets.shape[-1],)),
    )
    return train_supervised_layer(params, x, targets, key_w, opt=opt)


def supervised_stack(x, targets, key, hidden: tuple[int, ...], opt: LayerSGD):
    """Bengio et al. 2007's supervised greedy pretraining: train one hidden layer with a
    softmax on top, keep the layer, drop the softmax, add the next on its output."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        params, cost = supervised_layer(x, targets, key, layer, width, opt)
        stack.append(params)
        history.append(cost)
        x = encode(params, x)
    return stack, history


# ----------------------------------------------------------------------------- hand-off


def to_mlp_params(stack, output_layer: dict) -> dict:
    """The pretrained layers as the MLP's parameters: layer l's (weights, hidden_bias) become
    dense<l>'s (kernel, bias), and ``output_layer`` ({"kernel", "bias"}) the last dense layer.
    Works on any leading axes (seeds)."""
    params = {
        f"dense{i}": {"kernel": layer.weights, "bias": layer.hidden_bias}
        for i, layer in enumerate(stack, start=1)
    }
    params[f"dense{len(stack) + 1}"] = dict(output_layer)
    return params


def output_layer(params: dict) -> dict:
    """The last dense layer's {"kernel", "bias"} of MLP parameters."""
    return params[layer_names(params)[-1]]
