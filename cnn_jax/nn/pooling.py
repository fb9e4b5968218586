"""Max-pooling with windows equal to strides, as a reshape and a max, with a cheap backward.

``nn.max_pool`` lowers to ``reduce_window`` and its gradient to ``select_and_scatter``;
XLA's CPU backend computes that pair as a variadic reduce-window carrying four index
arrays plus a scatter, about a tenth of the deep CNN's training step here. For
non-overlapping windows the pool is a reshape and a max, and its gradient sends each
output's cotangent to the first maximum of its window (``argmax`` picks the first, as
``select_and_scatter`` does): the same values and the same gradients, ties included
(tested against ``nn.max_pool``).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


def _windows(x, p: int):
    """[B, H, W, C] -> [B, H/p, W/p, C, p·p]: each window's pixels last, row-major."""
    b, h, w, c = x.shape
    return (
        x.reshape(b, h // p, p, w // p, p, c)
        .transpose(0, 1, 3, 5, 2, 4)
        .reshape(b, h // p, w // p, c, p * p)
    )


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _pool(x, p: int):
    b, h, w, c = x.shape
    return x.reshape(b, h // p, p, w // p, p, c).max(axis=(2, 4))


def _pool_fwd(x, p: int):
    return _pool(x, p), x


def _pool_bwd(p: int, x, g):
    b, h, w, c = x.shape
    first_max = jnp.argmax(_windows(x, p), axis=-1)
    dx = jax.nn.one_hot(first_max, p * p, dtype=g.dtype) * g[..., None]
    dx = dx.reshape(b, h // p, w // p, c, p, p).transpose(0, 1, 4, 2, 5, 3)
    return (dx.reshape(x.shape),)


_pool.defvjp(_pool_fwd, _pool_bwd)


def max_pool(x: jax.Array, window: int) -> jax.Array:
    """``nn.max_pool(x, (window, window), strides=(window, window))`` (VALID) for NHWC x:
    trailing rows and columns that fill no whole window are dropped, as there."""
    _, h, w, _ = x.shape
    return _pool(x[:, : h // window * window, : w // window * window], window)
