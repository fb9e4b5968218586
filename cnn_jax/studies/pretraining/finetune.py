"""Fine-tuning on a learning-rate grid, read with a validation split and early stopping.

Every (learning rate, seed) pair is one configuration of one vmapped, jitted epoch
(:func:`cnn_jax.training.sgd.train_epoch`, the engine every MLP study trains with); after
each epoch the error on the training, validation and test images is recorded for every
configuration. :func:`choose` then picks the row's learning rate on validation alone (the
lowest mean over seeds of each seed's best validation error) and reads each seed's test error
twice: at the last epoch, and at its best validation epoch (early stopping).

:func:`finetune` saves a verified checkpoint after every epoch and resumes from the newest
intact one; with ``patience`` it stops once the row's best validation curve has not improved
for that many epochs, which is how the converged mode runs "until validation stops improving".
A configuration whose weights overflow (ReLU at a large rate) is marked diverged, frozen at its
start, and left out of the choice; the row fails only when every rate diverges.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.cli import Progress, silent
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.training import sgd
from cnn_jax.training.checkpoint import RunCheckpoints, resume, state_digest

SPLITS = ("train", "validation", "test")


@functools.partial(jax.jit, static_argnames=("net", "batch_size"))
def _epoch(params, hyper, keys, train, validation, test, epoch, *, net, batch_size):
    """One epoch of every configuration (leaves [C, ...]): (params, error % [C, 3] on
    train, validation and test, finite [C])."""
    model = net.model()

    def one(p, h, k):
        p = sgd.train_epoch(model, p, h, train, k, epoch, batch_size=batch_size)
        errors = [
            1.0 - sgd.cost_and_accuracy(model, p, *d, h.cost)[1] for d in (train, validation, test)
        ]
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(w)) for w in jax.tree.leaves(p)]))
        return p, 100.0 * jnp.stack(errors), finite

    return jax.vmap(one)(params, hyper, keys)


def grid(lrs, params, keys):
    """Every (learning rate, seed) pair, learning-rate major: configuration c = l·S + s.
    params leaves [S, ...] and keys [S] are repeated once per rate."""
    n = len(lrs)
    return (
        np.repeat(np.asarray(lrs, np.float32), keys.shape[0]),
        jax.tree.map(lambda x: jnp.concatenate([x] * n), params),
        jnp.concatenate([keys] * n),
    )


def stalled(validation: np.ndarray, diverged: np.ndarray, n_lrs: int, patience: int) -> bool:
    """True once the row's best curve (the lowest, over rates, of the seed-mean validation
    error [C, E]) has not improved in the last ``patience`` epochs (never when 0)."""
    if not patience or validation.shape[1] == 0:
        return False
    v = np.where(diverged[:, None], np.inf, validation).reshape(n_lrs, -1, validation.shape[1])
    best = v.mean(1).min(0)  # [E]
    return validation.shape[1] - 1 - int(np.argmin(best)) >= patience


def finetune(
    net: MLPSpec,
    lrs,
    params,
    keys: jax.Array,
    data: tuple,
    *,
    epochs: int,
    batch_size: int,
    patience: int = 0,
    checkpoint: str | Path | None = None,
    progress: Progress | None = None,
    desc: str = "fine-tune",
    log: Callable[[str], None] = lambda line: None,
):
    """Fine-tune params (leaves [S, ...], one start per seed; keys [S]) at every rate in
    ``lrs``; data = (train, validation, test), each (images, one-hot targets) on the device.

    Returns (final params [C, ...], {"train", "validation", "test"}: error % [C, E] with E
    ≤ ``epochs`` (fewer when ``patience`` stopped it), diverged [C] bool)."""
    lr, params, keys = grid(lrs, params, keys)
    hyper = sgd.hypers(lr, 0.0, net.cost)
    start = params
    c = len(lr)
    errors = np.zeros((c, 0, 3), np.float32)
    diverged = np.zeros((c,), bool)
    ckpt, run = None, None
    if checkpoint is not None:
        ckpt = RunCheckpoints(Path(checkpoint), subdir=".")
        run = {"lrs": [float(x) for x in lrs], "params_sha256": state_digest(start)}
        found = resume(ckpt, check_config=_same_run(ckpt, run), log=log, epochs=epochs)
        if found is not None:
            params = jax.tree.map(jnp.asarray, found.state["params"])
            errors = np.asarray(found.state["errors"], np.float32).reshape(c, -1, 3)
            diverged = np.asarray(found.state["diverged"]).astype(bool)
    bar = (progress or silent)(desc, epochs)
    bar.update(errors.shape[1])
    train, validation, test = data
    try:
        while errors.shape[1] < epochs and not stalled(
            errors[:, :, 1], diverged, len(lrs), patience
        ):
            done = errors.shape[1]
            step = hyper._replace(lr=jnp.where(diverged, 0.0, hyper.lr))
            params, new, finite = _epoch(
                params, step, keys, train, validation, test, done, net=net, batch_size=batch_size
            )
            new, finite = np.asarray(new), np.asarray(finite) & np.isfinite(new).all(1)
            diverged |= ~finite
            if diverged.all():
                raise Diverged(f"every learning rate diverged by epoch {done + 1}")
            # A diverged configuration restarts frozen (lr 0): finite, so it can be saved.
            params = _restart(params, start, jnp.asarray(diverged))
            new = np.where(diverged[:, None], 100.0, new)
            errors = np.concatenate([errors, new[:, None, :]], axis=1)
            if ckpt is not None:
                state = {"params": params, "errors": errors, "diverged": diverged.astype(np.int32)}
                ckpt.save(errors.shape[1], state, {"epochs": errors.shape[1]}, run)
            bar.update(1)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    curves = {name: errors[:, :, i] for i, name in enumerate(SPLITS)}
    return params, curves, diverged


def _restart(params, start, diverged: jax.Array):
    """params with each diverged configuration (diverged [C]) set back to its start."""
    return jax.tree.map(
        lambda p, s: jnp.where(diverged.reshape((-1,) + (1,) * (p.ndim - 1)), s, p), params, start
    )


def _same_run(ckpt: RunCheckpoints, run: dict):
    def check(saved: dict) -> None:
        if saved != run:
            raise UsageError(
                f"{ckpt.directory} holds checkpoints of another run; use another --out"
            )

    return check


def choose(curves: dict, diverged: np.ndarray, lrs) -> dict:
    """The row's learning rate and its seeds' errors. curves: error % [C, E] per split,
    configurations learning-rate major (:func:`grid`).

    The rate: the lowest mean over seeds of each seed's best validation error (rates with a
    diverged seed are out). Per seed of that rate: the best validation epoch (1-based, the
    first of equal minima), the test error there (early stopping) and at the last epoch."""
    n = len(lrs)
    v = np.asarray(curves["validation"], np.float64)
    t = np.asarray(curves["test"], np.float64)
    v, t = v.reshape(n, -1, v.shape[1]), t.reshape(n, -1, t.shape[1])  # [L, S, E]
    best_epoch = np.argmin(v, axis=2)  # [L, S]
    best_validation = np.take_along_axis(v, best_epoch[..., None], 2)[..., 0]
    out = np.asarray(diverged).reshape(n, -1).any(1)
    score = np.where(out, np.inf, best_validation.mean(1))  # [L]
    chosen = int(np.argmin(score))
    at_best = np.take_along_axis(t[chosen], best_epoch[chosen][:, None], 1)[:, 0]
    return {
        "chosen": chosen,
        "chosen_lr": float(lrs[chosen]),
        "validation_score": [None if not np.isfinite(s) else float(s) for s in score],
        "best_epoch": (best_epoch[chosen] + 1).tolist(),
        "best_validation_error": best_validation[chosen].tolist(),
        "early_stopping_test_error": at_best.tolist(),
        "final_test_error": t[chosen, :, -1].tolist(),
    }
