"""Glorot & Bengio's variance argument, measured on linear layers (tanh near 0): forward,
Var(z') = n_in·Var(W)·Var(z); backward, Var(g) = n_out·Var(W)·Var(g'). The normalized init's
Var(W) = 2/(n_in + n_out) keeps both at 1 when n_in = n_out, and between the two
conditions otherwise; the standard init's 1/(3·n_in) shrinks both by 3 per layer."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.activations import INITS

B = 4096


def variances(init: str, widths: list[int]) -> tuple[float, float]:
    """(Var of the last layer's output, Var of the gradient at the input) through linear
    layers of ``widths``, for unit-variance inputs and unit-variance output gradients."""
    kernel_init, _ = INITS[init]
    keys = jax.random.split(jax.random.key(0), len(widths) + 1)
    ws = [
        kernel_init(k, (a, b), jnp.float32)
        for k, a, b in zip(keys[:-2], widths[:-1], widths[1:], strict=True)
    ]
    x = jax.random.normal(keys[-1], (B, widths[0]))
    for w in ws:
        x = x @ w
    g = jax.random.normal(keys[-2], (B, widths[-1]))
    for w in reversed(ws):
        g = g @ w.T
    return float(jnp.var(x)), float(jnp.var(g))


def test_normalized_init_keeps_both_variances_through_ten_square_layers():
    forward, backward = variances("normalized", [256] * 11)
    assert forward == pytest.approx(1.0, rel=0.15) and backward == pytest.approx(1.0, rel=0.15)
    forward, backward = variances("standard", [256] * 11)
    np.testing.assert_allclose([forward, backward], 3.0**-10, rtol=0.3)  # n·Var(W) = 1/3


def test_unequal_widths_split_the_difference():
    """n_in = 400 -> n_out = 100: forward n_in·2/(n_in + n_out) = 1.6, backward 0.4."""
    forward, backward = variances("normalized", [400, 100])
    assert forward == pytest.approx(1.6, rel=0.05) and backward == pytest.approx(0.4, rel=0.05)
