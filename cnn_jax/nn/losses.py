"""Costs on logits z of the last layer, each averaged over the batch.

Sigmoid costs sum over the output units and average over examples, as in Nielsen's
``network2``: C = (1/n) Σ_x Σ_j c(a_j, y_j) with a = σ(z).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def quadratic_cost(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """(1/n) Σ_x ½‖σ(z) − y‖²; logits and one-hot targets [B, K]."""
    return jnp.mean(0.5 * jnp.sum((jax.nn.sigmoid(logits) - targets) ** 2, axis=-1))


def sigmoid_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """(1/n) Σ_x Σ_j −[y ln a + (1 − y) ln(1 − a)], a = σ(z); computed from z for stability."""
    return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, targets), axis=-1))


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """(1/n) Σ_x −ln softmax(z)_y with one-hot targets [B, K]."""
    return jnp.mean(optax.softmax_cross_entropy(logits, targets))


# The one cost registry: every study, flag and results file names its cost by these keys.
LOSSES = {
    "quadratic": quadratic_cost,
    "sigmoid_ce": sigmoid_cross_entropy,
    "softmax_ce": softmax_cross_entropy,
}
COST_NAMES = tuple(LOSSES)  # a cost's id is its index here


def cost_id(name: str) -> int:
    """The index of cost ``name`` in :data:`COST_NAMES`, for sweeps that vmap over costs."""
    if name not in LOSSES:
        raise ValueError(f"cost must be one of {', '.join(COST_NAMES)}, got {name!r}")
    return COST_NAMES.index(name)


def cost_by_id(cost: jax.Array | int, logits: jax.Array, targets: jax.Array) -> jax.Array:
    """The batch-mean cost with id ``cost`` (may be traced: one compiled sweep, many costs)."""
    return jax.lax.switch(cost, tuple(LOSSES.values()), logits, targets)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose largest logit is the label; logits [B, K], labels [B] int."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def _is_kernel(path) -> bool:
    return getattr(path[-1], "key", None) == "kernel"


def sum_of_squared_kernels(params) -> jax.Array:
    """Σ w² over every ``kernel`` leaf; biases are not regularised."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return sum((jnp.sum(w**2) for path, w in leaves if _is_kernel(path)), jnp.float32(0.0))


def l2_penalty(params, coeff: float) -> jax.Array:
    """coeff · Σ_kernels w², added to the batch-mean cost.

    Scaling: ``coeff`` is the study's λ in λ·wᵀw (Keras's ``l2(λ)`` per layer).
    Nielsen's (λ/2n)·Σw², with n the training-set size, is ``coeff = λ/(2n)``
    (see :func:`nielsen_coeff`): with λ = 5.0 and n = 50,000 that is 5e-5.
    """
    return coeff * sum_of_squared_kernels(params)


def nielsen_coeff(lam: float, n: int) -> float:
    """Nielsen's λ on a training set of n examples as an :func:`l2_penalty` coefficient."""
    return lam / (2.0 * n)
