"""The learning slowdown of one sigmoid neuron: quadratic cost against cross-entropy.

One neuron a = σ(w·x + b) with input x and target y. The two costs and their gradients
(the study's two formulas):

    quadratic      C = ½(a − y)²                    ∂C/∂w = (a − y)·σ'(z)·x
    cross-entropy  C = −[y ln a + (1 − y) ln(1 − a)]  ∂C/∂w = (a − y)·x

The quadratic gradient keeps σ'(z) = a(1 − a), which is near 0 when the neuron is
saturated (a ≈ 0 or 1): a neuron that is badly wrong learns slowly. Cross-entropy
cancels it. All runs of a study are one jit-compiled ``lax.scan`` vmapped over runs.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from cnn_jax.nn import losses

COSTS = ("quadratic", "sigmoid_ce")  # the two costs of the study, as named in losses.LOSSES
QUADRATIC = losses.cost_id("quadratic")


def neuron_cost(w, b, x, y, cost: int | jax.Array) -> jax.Array:
    """C(w, b) for one neuron: the cost with id ``cost`` (``losses.cost_id``; may be traced)
    on the batch of one example, logit z = w·x + b."""
    z = jnp.reshape(w * x + b, (1, 1))
    return losses.cost_by_id(cost, z, jnp.reshape(jnp.asarray(y, z.dtype), (1, 1)))


def neuron_grads(w, b, x, y, cost: int | jax.Array) -> tuple[jax.Array, jax.Array]:
    """(∂C/∂w, ∂C/∂b) by the study's formulas, not by autodiff."""
    a = jax.nn.sigmoid(w * x + b)
    error = a - y
    delta = jnp.where(cost == QUADRATIC, error * a * (1.0 - a), error)  # ∂C/∂z
    return delta * x, delta


def grad_w_against_output(a: jax.Array, cost: str, x: float = 1.0, y: float = 0.0) -> jax.Array:
    """∂C/∂w as a function of the output a (the study's two formulas): [A] -> [A]."""
    if cost == "quadratic":
        return (a - y) * a * (1.0 - a) * x
    if cost == "sigmoid_ce":
        return (a - y) * x
    raise ValueError(f"cost must be one of {COSTS}, got {cost!r}")


class NeuronHistory(NamedTuple):
    """Per epoch 0..E (entry e: after e updates); leading run axes first."""

    w: jax.Array  # [E+1]
    b: jax.Array  # [E+1]
    output: jax.Array  # [E+1] a = σ(w·x + b)
    cost: jax.Array  # [E+1]
    grad_w: jax.Array  # [E+1] ∂C/∂w


def descend(w0, b0, lr, cost, *, epochs: int, x: float = 1.0, y: float = 0.0) -> NeuronHistory:
    """Gradient descent on one neuron for ``epochs`` steps from (w0, b0) (``lax.scan``)."""

    def measure(wb):
        w, b = wb
        gw, _ = neuron_grads(w, b, x, y, cost)
        return (w, b, jax.nn.sigmoid(w * x + b), neuron_cost(w, b, x, y, cost), gw)

    def step(wb, _):
        w, b = wb
        gw, gb = neuron_grads(w, b, x, y, cost)
        return (w - lr * gw, b - lr * gb), measure(wb)

    last, records = jax.lax.scan(step, (jnp.float32(w0), jnp.float32(b0)), None, length=epochs)
    final = measure(last)
    return NeuronHistory(
        *(jnp.concatenate([r, f[None]]) for r, f in zip(records, final, strict=True))
    )


@functools.partial(jax.jit, static_argnames=("epochs",))
def descend_runs(w0, b0, lr, cost, *, epochs: int) -> NeuronHistory:
    """:func:`descend` for each run: w0, b0, lr, cost [R] -> leaves [R, E+1]."""
    return jax.vmap(lambda *a: descend(*a, epochs=epochs))(w0, b0, lr, cost)


# Nielsen's chapter 3 settings: input 1, target 0, 300 epochs.
NIELSEN_STARTS = {"w0.6_b0.9": (0.6, 0.9), "w2_b2": (2.0, 2.0)}
NIELSEN_LR = {"quadratic": 0.15, "sigmoid_ce": 0.005}
