"""Part 1, Cybenko: one hidden layer of sigmoids fitted at growing widths."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

TARGETS = {
    "smooth: sin(πx)": lambda x: jnp.sin(jnp.pi * x),
    "kink: |x|": jnp.abs,
    "oscillating: sin(8πx)·(1 - x²)": lambda x: jnp.sin(8 * jnp.pi * x) * (1 - x**2),
}


def _sigmoid_net(params, mask, x):
    """Σ_j mask_j c_j σ(w_j x + b_j) + d. x [P] -> [P]; params w, b, c [W]; d []."""
    h = jax.nn.sigmoid(x[:, None] * params["w"][None, :] + params["b"][None, :])  # [P, W]
    return h @ (params["c"] * mask) + params["d"]


def _init_sigmoid(key, width, max_width: int):
    """Kinks spread over [-1, 1] (b = -w·u, u uniform) so no unit starts saturated everywhere;
    steep slopes (std 10) because a kink or eight oscillations need sharp sigmoids."""
    kw, ku, kc = jax.random.split(key, 3)
    w = 10.0 * jax.random.normal(kw, (max_width,))
    u = jax.random.uniform(ku, (max_width,), minval=-1.0, maxval=1.0)
    c = jax.random.normal(kc, (max_width,)) / jnp.sqrt(width)
    mask = (jnp.arange(max_width) < width).astype(jnp.float32)
    return {"w": w, "b": -w * u, "c": c, "d": jnp.zeros(())}, mask


def adam_fit(loss_fn, params, steps: int, lr: float):
    """Full-batch Adam for ``steps`` steps in one ``lax.scan``; returns the final params."""
    opt = optax.adam(lr)

    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
    return params


def fit_one_hidden_layer(key, widths: Sequence[int], *, seeds: int, steps: int, lr: float):
    """Fit every target in ``TARGETS`` with one hidden layer of sigmoid units per width and seed.

    Trains on 512 evenly spaced points of [-1, 1] (the question is approximation, not
    generalization) and measures on 4001 points. One jitted call: targets × widths × seeds are
    vmapped, every network padded to max(widths) units with the unused ones masked.
    Returns ``{target: {"max_error": [len(widths), seeds], "rms_error": [...]}}`` as numpy.
    """
    max_err, rms_err = _fit_sigmoid_grid(
        key,
        jnp.asarray(widths),
        jnp.arange(seeds, dtype=jnp.uint32),
        max_width=max(widths),
        steps=steps,
        lr=lr,
    )
    return {
        name: {"max_error": np.asarray(max_err[i]), "rms_error": np.asarray(rms_err[i])}
        for i, name in enumerate(TARGETS)
    }


@functools.partial(jax.jit, static_argnames=("max_width", "steps", "lr"))
def _fit_sigmoid_grid(key, widths, seeds, *, max_width: int, steps: int, lr: float):
    """(max error, RMS error), each [targets, widths, seeds]."""
    train_x = jnp.linspace(-1.0, 1.0, 512)
    grid_x = jnp.linspace(-1.0, 1.0, 4001)

    def one(target_index, width, seed):
        target = lambda x: jax.lax.switch(target_index, list(TARGETS.values()), x)  # noqa: E731
        params, mask = _init_sigmoid(jax.random.fold_in(key, seed), width, max_width)
        train_y = target(train_x)
        loss = lambda p: jnp.mean((_sigmoid_net(p, mask, train_x) - train_y) ** 2)  # noqa: E731
        params = adam_fit(loss, params, steps, lr)
        err = jnp.abs(_sigmoid_net(params, mask, grid_x) - target(grid_x))
        return jnp.max(err), jnp.sqrt(jnp.mean(err**2))

    per_seed = jax.vmap(one, (None, None, 0))
    per_width = jax.vmap(per_seed, (None, 0, None))
    return jax.vmap(per_width, (0, None, None))(jnp.arange(len(TARGETS)), widths, seeds)
