"""Per-layer gradients, measured: the vanishing gradient as numbers.

The study's argument, for a chain of one-neuron layers:

    ∂C/∂w1 = x·σ'(z1)·w2·σ'(z2)·w3·σ'(z3)·w4·σ'(z4)·∂C/∂a4,

and σ' <= 1/4, so layers near the input learn slowest. This module measures that on
any model in this package: per-layer gradients named by path (``dense1/kernel``,
input side first), their norms, Nielsen's "speed of learning" ‖δˡ‖ (the norm of
∂C/∂bˡ of the batch-mean cost), and the same during full-batch training. Sweeps over
seeds are one jit-compiled, vmapped call.

A cost here is ``cost(logits [B, K], targets [B, K]) -> scalar``, the batch mean, as in
:mod:`cnn_jax.nn.losses`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec, draw_params
from cnn_jax.nn.tree import layer_names, named_leaves
from cnn_jax.training import devices

Cost = Callable[[jax.Array, jax.Array], jax.Array]


# ----------------------------------------------------------------------------- gradients


def batch_cost(model: nn.Module, cost: Cost) -> Callable:
    """(params, images [B, ...], targets [B, K]) -> the batch-mean cost."""

    def f(params, images, targets):
        return cost(model.apply({"params": params}, images), targets)

    return f


def layer_grads(model: nn.Module, params, images, targets, cost: Cost) -> dict[str, jax.Array]:
    """∂C/∂θ for every parameter, named by path and ordered from the input side."""
    return named_leaves(jax.grad(batch_cost(model, cost))(params, images, targets))


class GradStats(NamedTuple):
    """Per-layer gradient norms, one entry per layer from the input side (any leading
    axes, e.g. [S] seeds, come first: [..., L])."""

    kernel_norm: jax.Array  # [L] ‖∂C/∂Wˡ‖_F of the batch-mean cost
    delta_norm: jax.Array  # [L] ‖∂C/∂bˡ‖ = ‖mean_x δˡ_x‖: Nielsen's speed of learning
    # [L] mean_x ‖δˡ_x‖ (norm, then mean); None unless asked for, as it costs a
    # per-example backward pass.
    per_example_delta_norm: jax.Array | None = None


def _stack_norms(grads, names: list[str], leaf: str) -> jax.Array:
    return jnp.stack([jnp.linalg.norm(grads[name][leaf].ravel()) for name in names])


def grad_stats(
    model: nn.Module, params, images, targets, cost: Cost, *, per_example: bool = False
) -> GradStats:
    """Per-layer norms of the gradient of the batch-mean cost at ``params``.

    images [B, ...], targets [B, K]. With ``per_example`` also the mean over examples of
    each example's ‖δˡ_x‖ (its bias gradient alone), which is >= ‖mean_x δˡ_x‖.
    """
    f = batch_cost(model, cost)
    names = layer_names(params)
    grads = jax.grad(f)(params, images, targets)
    per_example_norm = None
    if per_example:
        # One example as a batch of one: vmap puts the example axis back outside.
        def one(x, y):
            return jax.grad(f)(params, x[None], y[None])

        example_grads = jax.vmap(one)(images, targets)  # leaves [B, ...]
        per_example_norm = jnp.stack(
            [jnp.mean(jnp.linalg.norm(example_grads[n]["bias"], axis=-1)) for n in names]
        )
    return GradStats(
        kernel_norm=_stack_norms(grads, names, "kernel"),
        delta_norm=_stack_norms(grads, names, "bias"),
        per_example_delta_norm=per_example_norm,
    )


def init_sweep(
    model: nn.Module,
    images: jax.Array,
    targets: jax.Array,
    cost: Cost,
    keys: jax.Array,
    *,
    per_example: bool = False,
    batch_size: int | None = None,
) -> GradStats:
    """:func:`grad_stats` at initialisation for each key in ``keys`` [S]: leaves [S, L].

    Parameters from :func:`~cnn_jax.nn.mlp.draw_params`, then one jit-compiled call (cached
    per model and cost) vmapped over seeds in groups of ``batch_size`` (all S at once when None;
    activations take S·B·width floats per layer).
    """
    params = draw_params(model, keys, images.shape[1:])
    return _sweep_stats(
        params,
        images,
        targets,
        model=model,
        cost=cost,
        per_example=per_example,
        batch_size=batch_size or keys.shape[0],
    )


@functools.partial(jax.jit, static_argnames=("model", "cost", "per_example", "batch_size"))
def _sweep_stats(params, images, targets, *, model, cost, per_example, batch_size) -> GradStats:
    def seeds(params, images, targets):  # this device's seeds
        def stats(p):
            return grad_stats(model, p, images, targets, cost, per_example=per_example)

        return jax.lax.map(stats, params, batch_size=batch_size)

    return devices.sweep(seeds, params, images, targets)


# ----------------------------------------------------------------------------- chain


def chain_closed_form_grads(
    params, x: jax.Array, y: jax.Array, cost: str
) -> tuple[jax.Array, jax.Array]:
    """∂C/∂wi and ∂C/∂bi of a sigmoid :class:`~cnn_jax.nn.models.ChainNet` by the study's
    product formula, not by autodiff.

    params: the ChainNet's parameters (dense<i>/kernel [1, 1], dense<i>/bias [1]);
    x, y: [B, 1]; cost: "quadratic" (½(a − y)²) or "sigmoid_ce" (cross-entropy), each
    averaged over the batch. Returns (dC/dw [L], dC/db [L]), input side first.

    With a_0 = x, z_i = w_i·a_(i-1) + b_i, a_i = σ(z_i):

        ∂C/∂w_i = a_(i-1) · σ'(z_i) · Π_{j>i} w_j·σ'(z_j) · ∂C/∂a_L,

    where ∂C/∂a_L = a_L − y (quadratic) or (a_L − y)/σ'(z_L) (cross-entropy): the
    cross-entropy cancels the output's σ'(z_L), which the quadratic cost keeps.
    """
    names = layer_names(params)
    w = jnp.stack([params[n]["kernel"].reshape(()) for n in names])  # [L]
    b = jnp.stack([params[n]["bias"].reshape(()) for n in names])  # [L]
    a = x[:, 0]  # [B]
    inputs, slopes = [], []
    for i in range(len(names)):
        inputs.append(a)  # a_(i-1)
        a = jax.nn.sigmoid(w[i] * a + b[i])
        slopes.append(a * (1.0 - a))  # σ'(z_i) = σ(1 − σ)
    inputs, slopes = jnp.stack(inputs), jnp.stack(slopes)  # [L, B]
    error = a - y[:, 0]  # a_L − y
    if cost == "quadratic":
        output_delta = error * slopes[-1]  # ∂C/∂z_L = (a − y)·σ'(z_L)
    elif cost == "sigmoid_ce":
        output_delta = error  # σ'(z_L) cancelled
    else:
        raise ValueError(f"cost must be 'quadratic' or 'sigmoid_ce', got {cost!r}")
    # δ_i = ∂C/∂z_i = Π_{j=i}^{L-1} σ'(z_j)·w_(j+1) · ∂C/∂z_L: a reversed cumulative product.
    links = slopes[:-1] * w[1:, None]  # [L-1, B]: σ'(z_j)·w_(j+1)
    tail = jnp.flip(jnp.cumprod(jnp.flip(links, 0), axis=0), 0)  # [L-1, B]
    factors = jnp.concatenate([tail, jnp.ones_like(output_delta)[None]])  # [L, B]
    deltas = factors * output_delta[None]  # [L, B]
    return jnp.mean(inputs * deltas, axis=1), jnp.mean(deltas, axis=1)


# ----------------------------------------------------------------------------- training


class TrainHistory(NamedTuple):
    """Measured at the parameters after e updates (e = 0: init). Leading axes (e.g. [S]
    seeds) come first."""

    delta_norm: jax.Array  # [E+1, L] ‖∂C/∂bˡ‖ of the batch-mean cost (L2 spares biases)
    cost: jax.Array  # [E+1] batch-mean cost on the training images, without the L2 term
    train_accuracy: jax.Array  # [E+1]
    test_accuracy: jax.Array  # [E/eval_every + 1], at epochs 0, eval_every, ..., E


def train_speed_of_learning(
    model: nn.Module,
    params,
    train: tuple[jax.Array, jax.Array],
    test: tuple[jax.Array, jax.Array],
    cost: Cost,
    *,
    epochs: int,
    lr: float,
    l2_coeff: float,
    eval_every: int = 1,
) -> tuple[object, TrainHistory]:
    """Full-batch gradient descent, recording per-layer ‖δˡ‖ every epoch (Nielsen ch. 5).

    train: (images [N, ...], one-hot targets [N, K]); test: (images [M, ...], labels [M]).
    Each epoch is one step θ ← θ − lr·∇(C + l2_coeff·Σ_kernels w²) on the whole training
    set, as Nielsen's ``network2.SGD`` with mini-batch size N (his weight decay
    1 − lr·λ/N is ``l2_coeff = λ/(2N)``). Test accuracy every ``eval_every`` epochs,
    which must divide ``epochs``: on 10,000 test images it costs more than the step.
    The loop is two nested ``lax.scan``s. Returns (final params, history).
    """
    if epochs % eval_every:
        raise ValueError(f"eval_every={eval_every} must divide epochs={epochs}")
    images, targets = train
    test_images, test_labels = test
    labels = jnp.argmax(targets, axis=-1)
    names = layer_names(params)

    def loss(p):
        logits = model.apply({"params": p}, images)
        data_cost = cost(logits, targets)
        return data_cost + losses.l2_penalty(p, l2_coeff), (data_cost, logits)

    def measure(p):
        grads, (data_cost, logits) = jax.grad(loss, has_aux=True)(p)
        norms = _stack_norms(grads, names, "bias")
        return grads, (norms, data_cost, losses.accuracy(logits, labels))

    def test_accuracy(p):
        return losses.accuracy(model.apply({"params": p}, test_images), test_labels)

    def epoch(p, _):
        grads, record = measure(p)
        return jax.tree.map(lambda w, g: w - lr * g, p, grads), record

    def block(p, _):
        acc = test_accuracy(p)
        p, records = jax.lax.scan(epoch, p, None, length=eval_every)
        return p, (records, acc)

    params, (records, test_acc) = jax.lax.scan(block, params, None, length=epochs // eval_every)
    _, last = measure(params)
    # [E/k, k, ...] -> [E, ...], then the final parameters' numbers as entry E.
    records = jax.tree.map(
        lambda r, x: jnp.concatenate([r.reshape(-1, *r.shape[2:]), x[None]]), records, last
    )
    test_acc = jnp.concatenate([test_acc, test_accuracy(params)[None]])
    return params, TrainHistory(*records, test_accuracy=test_acc)


def train_sweep(
    network: MLPSpec,
    keys: jax.Array,
    train: tuple[jax.Array, jax.Array],
    test: tuple[jax.Array, jax.Array],
    *,
    epochs: int,
    lr: float,
    l2_coeff: float,
    eval_every: int = 1,
) -> TrainHistory:
    """:func:`train_speed_of_learning` from the init drawn with each key [S]
    (:meth:`MLPSpec.init_params`), vmapped over seeds in one jit-compiled call: leaves
    [S, ...]."""
    params = network.init_params(keys, train[0].shape[1:])
    return _train_sweep(
        params, train, test, lr, l2_coeff, network=network, epochs=epochs, eval_every=eval_every
    )


@functools.partial(jax.jit, static_argnames=("network", "epochs", "eval_every"))
def _train_sweep(params, train, test, lr, l2_coeff, *, network, epochs, eval_every):
    def seeds(params, train, test, lr, l2_coeff):  # this device's seeds
        def one(p):
            _, history = train_speed_of_learning(
                network.model(),
                p,
                train,
                test,
                network.cost_fn,
                epochs=epochs,
                lr=lr,
                l2_coeff=l2_coeff,
                eval_every=eval_every,
            )
            return history

        return jax.vmap(one)(params)

    return devices.sweep(seeds, params, train, test, lr, l2_coeff)


# ----------------------------------------------------------------------------- summaries

QUANTILES = {"p01": 1, "p05": 5, "median": 50, "p95": 95, "p99": 99}


def seed_quantiles(values) -> dict[str, list[float]]:
    """values [S, L] -> {"median": [L], "p01": [L], "p05", "p95", "p99"} over seeds."""
    values = np.asarray(values, np.float64)
    return {name: np.percentile(values, q, axis=0).tolist() for name, q in QUANTILES.items()}


def median_shrink(delta_norm) -> list[float]:
    """delta_norm [S, L] -> [L-1]: the median over seeds of ‖δ^(l+1)‖/‖δˡ‖, the factor
    by which the speed of learning falls from layer l+1 to layer l (toward the input)."""
    d = np.asarray(delta_norm, np.float64)
    return np.median(d[:, 1:] / d[:, :-1], axis=0).tolist()


# Nielsen, Neural Networks and Deep Learning, ch. 5: ‖δˡ‖ of each hidden layer at init
# (network2 init, sigmoid, cross-entropy, first 1,000 training images), one draw each.
NIELSEN_CH5_INIT: dict[str, tuple[float, ...]] = {
    "784-30-30-10": (0.0657, 0.3092),
    "784-30-30-30-10": (0.0118, 0.0600, 0.2831),
    "784-30-30-30-30-10": (0.0030, 0.0171, 0.0695, 0.2851),
}
