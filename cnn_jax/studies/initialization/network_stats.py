"""A network's forward pass and gradients, its per-layer statistics and Jacobians, and
all of them at init over many seeds."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn.activations import (
    ACTIVATIONS,
)
from cnn_jax.nn.mlp import MLPSpec, draw_params
from cnn_jax.nn.tree import layer_names
from cnn_jax.studies.initialization.config import SATURATION_Z


def forward(net: MLPSpec, params, images: jax.Array, shifts=None):
    """The MLP's forward pass written out layer by layer (the same numbers as
    ``net.model().apply``), so the pre-activations can be shifted and differentiated.

    images [B, 28, 28, 1]; ``shifts``: None or one array per layer [B, n_i] added to s^i.
    Returns (logits [B, 10], pre-activations s^i [B, n_i] per layer including the output,
    activations z^i [B, n_i] per hidden layer)."""
    act = ACTIVATIONS[net.activation]
    names = layer_names(params)
    z = images.reshape(images.shape[0], -1)  # [B, 784]
    pre, post = [], []
    for i, name in enumerate(names):
        s = z @ params[name]["kernel"] + params[name]["bias"][None]
        if shifts is not None:
            s = s + shifts[i]
        pre.append(s)
        if i < len(names) - 1:
            z = act(s)
            post.append(z)
    return pre[-1], pre, post


def backprop_grads(net: MLPSpec, params, images, targets):
    """Per-example back-propagated gradients ∂C_x/∂s^i [B, n_i] of every layer (input side
    first, the output layer last), C_x the cost of example x alone; and the forward pass."""
    shapes = [jnp.zeros((images.shape[0], p["bias"].shape[0])) for p in _ordered(params)]

    def total_cost(shifts):
        logits, pre, post = forward(net, params, images, shifts)
        # The batch-mean cost times B: each example's gradient is its own cost's.
        return net.cost_fn(logits, targets) * images.shape[0], (pre, post)

    grads, (pre, post) = jax.grad(total_cost, has_aux=True)(shapes)
    return grads, pre, post


def _ordered(params) -> list:
    return [params[name] for name in layer_names(params)]


def saturated(activation: str, s: jax.Array) -> jax.Array:
    """Where a unit sits in its activation's flat tail (bool, the shape of s); for ReLU, where
    it is off (s <= 0)."""
    if activation == "relu":
        return s <= 0
    if activation not in SATURATION_Z:
        raise ValueError(f"no saturation threshold for {activation!r}")
    return jnp.abs(s) > SATURATION_Z[activation]


PERCENTILES = (2, 50, 98)


def layer_stats(net: MLPSpec, params, images, targets) -> dict[str, jax.Array]:
    """Per hidden layer [H] (input side first) on one batch: activation mean, std, 2nd /
    50th / 98th percentile and saturated fraction (over examples and units); Var(∂C/∂s)
    over examples and units; Var(∂C/∂W) of the batch-mean cost over the kernel's entries.
    The weight-gradient variance has an entry for the output layer too: [H + 1]."""
    grads_s, pre, post = backprop_grads(net, params, images, targets)
    inputs = [images.reshape(images.shape[0], -1), *post]  # z^{i-1} of each layer
    batch = images.shape[0]
    # ∂C̄/∂W^i = (1/B)·Σ_x z^{i-1}_xᵀ·∂C_x/∂s^i for the batch-mean cost C̄.
    weight_grads = [z.T @ g / batch for z, g in zip(inputs, grads_s, strict=True)]
    hidden = range(len(post))
    # [len(PERCENTILES), H]: one sort per layer.
    pct = jnp.stack([jnp.percentile(post[i], jnp.asarray(PERCENTILES)) for i in hidden], 1)
    return {
        "mean": jnp.stack([jnp.mean(post[i]) for i in hidden]),
        "std": jnp.stack([jnp.std(post[i]) for i in hidden]),
        **{f"p{q:02d}": v for q, v in zip(PERCENTILES, pct, strict=True)},
        "saturated": jnp.stack(
            [jnp.mean(saturated(net.activation, pre[i]).astype(jnp.float32)) for i in hidden]
        ),
        "backprop_var": jnp.stack([jnp.var(grads_s[i]) for i in hidden]),
        "weight_grad_var": jnp.stack([jnp.var(g) for g in weight_grads]),
    }


def layer_jacobians(net: MLPSpec, params, images) -> list[jax.Array]:
    """∂z^i/∂z^{i-1} of every hidden layer at each example: [B, n_i, n_{i-1}], by autodiff
    of the layer map z ↦ f(z·W^i + b^i) at that example's z^{i-1}."""
    act = ACTIVATIONS[net.activation]
    _, _, post = forward(net, params, images)
    inputs = [images.reshape(images.shape[0], -1), *post[:-1]]
    out = []
    for layer, z in zip(_ordered(params)[:-1], inputs, strict=True):

        def layer_map(x, layer=layer):
            return act(x @ layer["kernel"] + layer["bias"])

        out.append(jax.vmap(jax.jacfwd(layer_map))(z))
    return out


def mean_singular_values(net: MLPSpec, params, images) -> jax.Array:
    """[H]: per hidden layer, the mean singular value of ∂z^i/∂z^{i-1}, averaged over the
    examples in ``images`` (the first layer's map is 784 → n: min(784, n) singular values)."""
    return jnp.stack(
        [
            jnp.mean(jnp.linalg.svd(j, compute_uv=False))
            for j in layer_jacobians(net, params, images)
        ]
    )


@functools.partial(jax.jit, static_argnames=("net",))
def _init_stats(params, images, targets, jacobian_images, *, net):
    def one(p):
        stats = layer_stats(net, p, images, targets)
        stats["jacobian_singular_value"] = mean_singular_values(net, p, jacobian_images)
        return stats

    # One seed at a time: the Jacobians take B·n² floats per layer.
    return jax.lax.map(one, params)


def init_stats(net: MLPSpec, keys: jax.Array, images, targets, jacobian_images) -> dict:
    """:func:`layer_stats` and the mean Jacobian singular values [S, H] at the init drawn
    with each key in ``keys`` [S] (one compiled call): {name: numpy [S, H]}."""
    params = draw_params(net.model(), keys, images.shape[1:])
    # The init enters only through params: one compiled call serves every init.
    net = dataclasses.replace(net, init="standard")
    return jax.device_get(_init_stats(params, images, targets, jacobian_images, net=net))


def spread(values) -> dict[str, list[float]]:
    """values [S, L] -> {"median", "p05", "p95"} over seeds, each [L]."""
    v = np.asarray(values, np.float64)
    return {
        "median": np.median(v, axis=0).tolist(),
        "p05": np.percentile(v, 5, axis=0).tolist(),
        "p95": np.percentile(v, 95, axis=0).tolist(),
    }
