"""Fine-tuning on a learning-rate grid, read with a validation split and early stopping.

Every (learning rate, seed) pair is one configuration of one jitted epoch
(:func:`cnn_jax.training.sgd.train_epoch`, the engine every MLP study trains with, its
configurations run as :func:`cnn_jax.training.sgd.engine_for` picks); after
each epoch the validation error (and a training error) is recorded for every configuration,
and each configuration keeps its parameters at its best validation epoch so far, so the test
images are read only at the end, with those and with the last parameters. :func:`choose` then
picks the row's learning rate on validation alone (the lowest mean over seeds of each seed's
best validation error) and gives each seed's test error at the last epoch and at its best
validation epoch (early stopping).

:func:`finetune` saves a verified checkpoint after every epoch and resumes from the newest
intact one. With ``patience`` each configuration stops on its own validation curve, once that
curve has not improved for ``patience`` epochs (:func:`stalled`): a slow rate or seed is not
cut short because another one stalled, which is how the converged mode runs "until validation
stops improving". A stopped configuration is frozen (its last parameters are its final ones);
the row ends when every configuration has stopped or ``epochs`` have run. A configuration
whose weights or errors overflow (a large rate) is recorded as diverged in that epoch, frozen
at its best parameters, and left out of the choice; the row fails only when every
configuration diverges.
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

CURVES = ("train", "validation")  # error after every epoch; the test error only at two


@functools.partial(
    jax.jit,
    static_argnames=("net", "batch_size", "engine"),
    compiler_options=sgd.COMPILER_OPTIONS,
)
def _epoch(
    params, hyper, keys, running, train, watched, validation, epoch, *, net, batch_size, engine=None
):
    """One epoch of every running configuration (leaves [C, ...]; running bool [C]):
    (params, error % [C, 2] on the ``watched`` training images and on validation, finite
    [C]). A configuration that is not running keeps its parameters, with errors 0 and finite
    True for the caller to replace; with the "map" engine (:func:`cnn_jax.training.sgd.
    engine_for`) it costs nothing, so a grid whose fast rates have stopped runs faster."""
    model = net.model()

    def work(p, h, k):
        p = sgd.train_epoch(model, p, h, train, k, epoch, batch_size=batch_size)
        errors = [
            1.0 - sgd.cost_and_accuracy(model, p, *d, h.cost)[1] for d in (watched, validation)
        ]
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(w)) for w in jax.tree.leaves(p)]))
        return p, 100.0 * jnp.stack(errors), finite

    def idle(p, h, k):
        return p, jnp.zeros((2,), jnp.float32), jnp.array(True)

    def one(p, h, k, run):
        return jax.lax.cond(run, work, idle, p, h, k)

    return sgd.each_config(
        one, (params, hyper, keys, running), engine=engine or sgd.engine_for(net)
    )


@functools.partial(jax.jit, static_argnames=("net",))
def test_error(params, images, targets, *, net):
    """Error % [C] of every configuration (leaves [C, ...]) on images [N, ...]."""
    model = net.model()
    accuracy = jax.vmap(lambda p: sgd.cost_and_accuracy(model, p, images, targets, 0)[1])(params)
    return 100.0 * (1.0 - accuracy)


@functools.partial(jax.jit, static_argnames=("net",))
def test_correct(params, images, targets, *, net):
    """Per-image correctness bool [C, N] of every configuration (leaves [C, ...]) on images
    [N, ...] and one-hot targets [N, K]: what McNemar's test pairs."""
    model = net.model()
    labels = jnp.argmax(targets, -1)
    return jax.vmap(lambda p: jnp.argmax(model.apply({"params": p}, images), -1) == labels)(params)


def grid(lrs, params, keys):
    """Every (learning rate, seed) pair, learning-rate major: configuration c = l·S + s.
    params leaves [S, ...] and keys [S] are repeated once per rate."""
    n = len(lrs)
    return (
        np.repeat(np.asarray(lrs, np.float32), keys.shape[0]),
        jax.tree.map(lambda x: jnp.concatenate([x] * n), params),
        jnp.concatenate([keys] * n),
    )


def stalled(validation: np.ndarray, patience: int) -> np.ndarray:
    """bool [C]: the configurations whose own validation curve (error [C, E]) has not
    improved in its last ``patience`` epochs (its first minimum is that long ago; never when
    ``patience`` is 0)."""
    c, e = validation.shape
    if not patience or e == 0:
        return np.zeros((c,), bool)
    return e - 1 - np.argmin(validation, axis=1) >= patience


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
    must_learn: bool = True,
):
    """Fine-tune params (leaves [S, ...], one start per seed; keys [S]) at every rate in
    ``lrs``; data = (train, validation, test), each (images, one-hot targets) on the device.

    After every epoch the error on validation and on as many training images as there are
    validation images is recorded, and each configuration's parameters at its best
    validation epoch so far are kept (the first of equal minima). Returns (final params
    [C, ...], {"train", "validation": error % [C, E], "test_final", "test_at_best": error %
    [C], "correct_at_best": per test image bool [C, N], "epochs_run": epochs each
    configuration trained [C]}, the epoch each configuration
    diverged in [C] int, 0 where it did not); E ≤ ``epochs`` (fewer when every configuration
    stopped earlier: ``patience``). A stopped configuration's curve repeats its last values.
    When every configuration diverges: :class:`Diverged`, unless ``must_learn`` is False."""
    lr, params, keys = grid(lrs, params, keys)
    hyper = sgd.hypers(lr, 0.0, net.cost)
    train, validation, test = data
    watched = tuple(d[: len(validation[0])] for d in train)
    c = len(lr)
    state = {
        "params": params,
        "best_params": params,
        "errors": np.zeros((c, 0, 2), np.float32),
        "best_validation": np.full((c,), np.inf, np.float32),
        "diverged": np.zeros((c,), np.int32),  # the epoch it diverged in; 0: not
        "stopped": np.zeros((c,), np.int32),  # the epoch its patience ran out; 0: running
    }
    ckpt, run = None, None
    if checkpoint is not None:
        ckpt = RunCheckpoints(Path(checkpoint), subdir=".")
        run = {"lrs": [float(x) for x in lrs], "params_sha256": state_digest(params)}
        found = resume(ckpt, check_config=_same_run(ckpt, run), log=log, epochs=epochs)
        if found is not None:
            saved = found.state
            state = {
                "params": jax.tree.map(jnp.asarray, saved["params"]),
                "best_params": jax.tree.map(jnp.asarray, saved["best_params"]),
                "errors": np.asarray(saved["errors"], np.float32).reshape(c, -1, 2),
                "best_validation": np.asarray(saved["best_validation"], np.float32),
                "diverged": np.asarray(saved["diverged"], np.int32),
                "stopped": np.asarray(saved.get("stopped", np.zeros((c,))), np.int32),
            }
    bar = (progress or silent)(desc, epochs)
    bar.update(state["errors"].shape[1])
    try:
        while (
            state["errors"].shape[1] < epochs and not (state["diverged"] | state["stopped"]).all()
        ):
            state = _one_epoch(state, hyper, keys, (train, watched, validation), net, batch_size)
            if must_learn and state["diverged"].all():
                done = state["errors"].shape[1]
                raise Diverged(f"every learning rate diverged by epoch {done}")
            state = _stop(state, patience)
            if ckpt is not None:
                done = state["errors"].shape[1]
                ckpt.save(done, _finite(state), {"epochs": done}, run)
            bar.update(1)
    finally:
        bar.close()
        if ckpt is not None:
            ckpt.close()
    errors, diverged = state["errors"], state["diverged"].astype(bool)
    curves = {name: errors[:, :, i] for i, name in enumerate(CURVES)}
    for name, p in (("test_final", state["params"]), ("test_at_best", state["best_params"])):
        curves[name] = np.where(diverged, 100.0, np.asarray(test_error(p, *test, net=net)))
    correct = np.asarray(test_correct(state["best_params"], *test, net=net))
    curves["correct_at_best"] = correct & ~diverged[:, None]
    stopped = state["stopped"]
    ran = np.where(stopped > 0, stopped, errors.shape[1])
    curves["epochs_run"] = np.where(state["diverged"] > 0, state["diverged"], ran).astype(np.int32)
    return state["params"], curves, state["diverged"].copy()


def _stop(state: dict, patience: int) -> dict:
    """Mark the running configurations whose own validation curve has stalled."""
    running = (state["diverged"] == 0) & (state["stopped"] == 0)
    now = running & stalled(state["errors"][:, :, 1], patience)
    done = state["errors"].shape[1]
    return {**state, "stopped": np.where(now, done, state["stopped"]).astype(np.int32)}


def _one_epoch(state: dict, hyper, keys, data, net, batch_size) -> dict:
    """The state after one more epoch: diverged configurations frozen at their best
    parameters, stopped ones at their last, their errors repeated."""
    train, watched, validation = data
    done = state["errors"].shape[1]
    diverged = state["diverged"] > 0
    running = ~diverged & (state["stopped"] == 0)
    params, new, finite = _epoch(
        state["params"],
        hyper,
        keys,
        jnp.asarray(running),
        train,
        watched,
        validation,
        done,
        net=net,
        batch_size=batch_size,
    )
    new, finite = np.asarray(new), np.asarray(finite) & np.isfinite(new).all(1)
    now = ~diverged & ~finite
    diverged = diverged | now
    # A diverged configuration goes back to its best parameters (finite: it can be saved);
    # a stopped one keeps its last, exactly, and repeats its last errors.
    stopped = (state["stopped"] > 0) & ~diverged
    params = _where(jnp.asarray(diverged), state["best_params"], params)
    params = _where(jnp.asarray(stopped), state["params"], params)
    if done:
        new = np.where(stopped[:, None], state["errors"][:, -1], new)
    new = np.where(diverged[:, None], 100.0, new)
    improved = (new[:, 1] < state["best_validation"]) & ~diverged & ~stopped
    return {
        "params": params,
        "best_params": _where(jnp.asarray(improved), params, state["best_params"]),
        "errors": np.concatenate([state["errors"], new[:, None, :]], axis=1),
        "best_validation": np.where(improved, new[:, 1], state["best_validation"]),
        "diverged": np.where(now, done + 1, state["diverged"]).astype(np.int32),
        "stopped": state["stopped"],
    }


def _finite(state: dict) -> dict:
    """The state as saved: the best validation error of a configuration not yet measured
    (inf) is saved as 100 %, so every saved number is finite."""
    return {**state, "best_validation": np.minimum(state["best_validation"], 1e3)}


def _where(pick: jax.Array, a, b):
    """a where pick [C] is true, else b (parameter trees with leaves [C, ...])."""
    return jax.tree.map(
        lambda x, y: jnp.where(pick.reshape((-1,) + (1,) * (x.ndim - 1)), x, y), a, b
    )


def _same_run(ckpt: RunCheckpoints, run: dict):
    def check(saved: dict) -> None:
        if saved != run:
            raise UsageError(
                f"{ckpt.directory} holds checkpoints of another run; use another --out"
            )

    return check


def choose(curves: dict, diverged: np.ndarray, lrs) -> dict:
    """The row's learning rate and its seeds' errors. curves (from :func:`finetune`):
    "validation" error % [C, E], "test_at_best" and "test_final" [C], configurations
    learning-rate major (:func:`grid`).

    The rate: the lowest mean over seeds of each seed's best validation error (rates with a
    diverged seed are out). Per seed of that rate: the best validation epoch (1-based, the
    first of equal minima), the test error there (early stopping) and at the last epoch."""
    n = len(lrs)
    v = np.asarray(curves["validation"], np.float64)
    v = v.reshape(n, -1, v.shape[1])  # [L, S, E]
    best_epoch = np.argmin(v, axis=2)  # [L, S]
    best_validation = v.min(axis=2)
    out = (np.asarray(diverged) > 0).reshape(n, -1).any(1)
    score = np.where(out, np.inf, best_validation.mean(1))  # [L]
    chosen = int(np.argmin(score))

    def of_chosen(name: str) -> list[float]:
        return np.asarray(curves[name], np.float64).reshape(n, -1)[chosen].tolist()

    return {
        "chosen": chosen,
        "chosen_lr": float(lrs[chosen]),
        "validation_score": [None if not np.isfinite(s) else float(s) for s in score],
        "best_epoch": (best_epoch[chosen] + 1).tolist(),
        "best_validation_error": best_validation[chosen].tolist(),
        "early_stopping_test_error": of_chosen("test_at_best"),
        "final_test_error": of_chosen("test_final"),
    }


def next_rate(lrs, chosen_lr: float) -> float | None:
    """The rate one step beyond the grid's edge that ``chosen_lr`` sits on (the grid's own
    end ratio: 3 past {0.3, 1}), or None when the pick is interior or the grid has one rate."""
    g = sorted(float(x) for x in lrs)
    if len(g) < 2:
        return None
    if np.isclose(chosen_lr, g[-1]):
        return g[-1] * g[-1] / g[-2]
    if np.isclose(chosen_lr, g[0]):
        return g[0] * g[0] / g[1]
    return None


def merge(blocks: list[tuple[float, tuple]]) -> tuple:
    """Fine-tuning results of single rates or grids, as one grid sorted by rate: blocks of
    (first rate, (lrs, params [C, ...], curves, diverged [C])) -> (lrs, params, curves,
    diverged). Shorter curves (a block whose configurations all stopped earlier) are padded
    with their last epoch, as a stopped configuration's curve is."""
    blocks = sorted(blocks, key=lambda b: b[0])
    width = max(b[1][2]["validation"].shape[1] for b in blocks)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.repeat(a[:, -1:], width - a.shape[1], axis=1)], axis=1)

    lrs = tuple(lr for _, (grid_lrs, *_) in blocks for lr in grid_lrs)
    params = jax.tree.map(lambda *x: jnp.concatenate(x), *(b[1][1] for b in blocks))
    curves = {
        name: np.concatenate(
            [pad(b[1][2][name]) if name in CURVES else b[1][2][name] for b in blocks]
        )
        for name in blocks[0][1][2]
    }
    diverged = np.concatenate([b[1][3] for b in blocks])
    return lrs, params, curves, diverged


def finetune_widening(net: MLPSpec, lrs, params, keys, data, *, widen: int, checkpoint, **kwargs):
    """:func:`finetune` on ``lrs``, then, while the chosen rate sits on an edge of the grid
    (at most ``widen`` times), on the next rate beyond it (:func:`next_rate`), each in its own
    checkpoint folder under ``checkpoint``. A rate beyond that diverges bounds the grid too.
    Returns (the grid's rates, sorted; params [C, ...]; curves; diverged [C]) as
    :func:`finetune` does for one grid, and the choice on it."""
    lrs = tuple(sorted(float(x) for x in lrs))
    where = None if checkpoint is None else Path(checkpoint) / "grid"
    p, curves, diverged = finetune(net, lrs, params, keys, data, checkpoint=where, **kwargs)
    blocks = [(lrs[0], (lrs, p, curves, diverged))]
    grid = blocks[0][1]
    choice = choose(grid[2], grid[3], grid[0])
    for _ in range(widen):
        lr = next_rate(grid[0], choice["chosen_lr"])
        if lr is None:
            break
        where = None if checkpoint is None else Path(checkpoint) / f"lr{lr:g}"
        # A rate at which every seed diverges bounds the grid: no error here.
        more = {**kwargs, "desc": f"{kwargs.get('desc', 'fine-tune')} at η = {lr:g}"}
        p, curves, diverged = finetune(
            net, (lr,), params, keys, data, checkpoint=where, must_learn=False, **more
        )
        blocks.append((lr, ((lr,), p, curves, diverged)))
        grid = merge(blocks)
        choice = choose(grid[2], grid[3], grid[0])
    return grid, choice
