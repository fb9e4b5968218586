"""The one way every engine cuts a shuffled epoch into mini-batches."""

from __future__ import annotations

import jax


def epoch_batches(key: jax.Array, epoch, n: int, batch: int) -> jax.Array:
    """Indices [n // batch, batch] of epoch ``epoch``: ``permutation(fold_in(key, epoch), n)``
    cut into batches, the last partial batch left out (a different remainder each epoch).

    ``epoch`` may be traced (inside ``lax.scan``); ``n`` and ``batch`` are static.
    """
    steps = n // batch
    order = jax.random.permutation(jax.random.fold_in(key, epoch), n)
    return order[: steps * batch].reshape(steps, batch)
