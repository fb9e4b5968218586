"""The paper's Table 1: one network's learning rates and seeds in one vmapped sweep, the
rate picked on validation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.studies.initialization.config import PUBLISHED_TEST_ERROR, Study
from cnn_jax.training import divergence, sgd


def test_error(net: MLPSpec, params, images, targets) -> float:
    """Percentage of ``images`` misclassified; targets one-hot."""
    logits = jax.jit(net.model().apply)({"params": params}, images)
    return float(100.0 * (1.0 - losses.accuracy(logits, jnp.argmax(targets, -1))))


def table_row(
    net,
    study: Study,
    init_key,
    train_key,
    train,
    validation,
    test,
    progress,
    label,
    checkpoint=None,
):
    """Train the network at every (learning rate, seed) pair in one vmapped sweep on
    ``train`` (with a checkpoint per epoch in the folder ``checkpoint``, when given); pick the
    rate with the lowest final validation error averaged over seeds; report the test error
    of each seed at that rate, and their mean and sd (ddof 1)."""
    n_lrs, n_seeds = len(study.lrs), study.seeds
    # Configuration c = lr_index · seeds + seed: every rate starts from the same S inits.
    hyper = sgd.hypers(np.repeat(study.lrs, n_seeds).tolist(), 0.0, net.cost)
    init_keys = jnp.tile(jax.random.split(init_key, n_seeds), n_lrs)
    train_keys = jnp.tile(jax.random.split(train_key, n_seeds), n_lrs)
    params, metrics = sgd.run_sweep(
        net,
        hyper,
        init_keys,
        train_keys,
        train,
        validation,
        epochs=study.epochs,
        batch_size=study.batch_size,
        block=1,
        checkpoint=checkpoint,
        progress=progress,
        desc=f"Table 1 {label}, epochs",
    )
    shape = (n_lrs, n_seeds, -1)
    diverged = _by_rate_and_seed(sgd.divergences(metrics, hyper), n_seeds)
    rate_ok = divergence.survivors(n_lrs * n_seeds, diverged).reshape(n_lrs, n_seeds).all(1)
    divergence.require_survivor(
        "every rate", [{**r, "config": r["config"] // n_seeds} for r in diverged], n_lrs,
        "lower the learning rate",
    )  # fmt: skip
    validation_error = 100.0 * (1.0 - np.asarray(metrics["test_accuracy"], np.float64))
    validation_error = validation_error.reshape(shape)  # [L, S, E]; NaN where diverged
    final = np.where(rate_ok, np.nan_to_num(validation_error[:, :, -1]).mean(1), np.inf)
    best = int(np.argmin(final))  # a rate where any seed diverged is never picked
    errors = [
        test_error(net, jax.tree.map(lambda x, c=best * n_seeds + s: x[c], params), *test)
        for s in range(n_seeds)
    ]
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        "lrs": list(study.lrs),
        "seeds": n_seeds,
        "validation_error_by_epoch": divergence.json_floats(validation_error),
        "train_accuracy_by_epoch": divergence.json_floats(
            np.asarray(metrics["train_accuracy"]).reshape(shape)
        ),
        "diverged": diverged,
        "chosen_lr": study.lrs[best],
        "validation_error": float(validation_error[best, :, -1].mean()),
        "test_errors": errors,
        "test_error": float(np.mean(errors)),
        "test_error_sd": float(np.std(errors, ddof=1)) if n_seeds > 1 else 0.0,
        "updates": study.epochs * study.updates_per_epoch,
        "published_test_error": PUBLISHED_TEST_ERROR.get(label),
    }


def _by_rate_and_seed(records: list[dict], seeds: int) -> list[dict]:
    """Divergence records of a Table 1 sweep (configuration c = rate index · seeds + seed)
    named by learning rate and seed."""
    return [
        divergence.diverged(
            config=r["config"], epoch=r["epoch"], why=r["why"], lr=r["lr"], seed=r["config"] % seeds
        )
        for r in records
    ]
