"""Starting points, measured: Glorot & Bengio 2010 ("Understanding the difficulty of training
deep feedforward neural networks") on MNIST.

Networks of H hidden layers of n units, softmax output, negative log-likelihood, zero
biases, with the paper's two inits (``activations.INITS``): "standard" W ~ U[±1/√n_in]
and "normalized" W ~ U[±√6/√(n_in + n_out)]. Three measurements:

1. At init, per hidden layer, over many seeds (vmapped): activation mean / std /
   percentiles and saturated fraction, the variance of the back-propagated gradient
   ∂C/∂s (s = pre-activation), the variance of the weight gradient ∂C/∂W, and the average
   singular value of each layer's Jacobian ∂z^{i+1}/∂z^i (z = activations).
2. During plain mini-batch SGD: the same activation statistics on 300 fixed test images
   every ``record_every`` updates (the paper's Figures 2–4), and the gradient variances.
3. The paper's Table 1: test error of 5-hidden-layer networks after SGD with mini-batch 10,
   the learning rate picked on the 10,000 validation images (mean over seeds); every
   (learning rate, seed) pair of one network trains in one vmapped sweep
   (:func:`cnn_jax.training.sgd.run_sweep`), and the row is the mean ± sd over seeds.

Layer i maps z^{i-1} to z^i = f(s^i), s^i = z^{i-1}·W^i + b^i, with z^0 the image.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.flags import flag
from cnn_jax.nn import losses
from cnn_jax.nn.activations import (
    ACTIVATIONS,
    SIGMOID_SATURATION_Z,
    SOFTSIGN_SATURATION_Z,
    TANH_SATURATION_Z,
)
from cnn_jax.nn.mlp import MLPSpec, draw_params
from cnn_jax.nn.tree import layer_names
from cnn_jax.training import divergence, sgd
from cnn_jax.training.batches import epoch_batches
from cnn_jax.training.rows import RowStore, non_finite, slug

# Glorot & Bengio 2010, Table 1, MNIST column: test error (%) of 5 hidden layers of 1,000
# units; "N" = normalized init.
PUBLISHED_TEST_ERROR = {
    "softsign": 1.64,
    "softsign N": 1.72,
    "tanh": 1.76,
    "tanh N": 1.64,
    "sigmoid": 2.21,
}
# Section 4.2: average singular value of the layer Jacobians at init.
PUBLISHED_JACOBIAN = {"standard": 0.5, "normalized": 0.8}
PAPER_UPDATES = 5_000_000  # "after about 5 million updates"

# (activation, init) of each network the study compares, by the paper's row labels.
NETWORKS = {
    "sigmoid": ("sigmoid", "standard"),
    "tanh": ("tanh", "standard"),
    "tanh N": ("tanh", "normalized"),
    "softsign": ("softsign", "standard"),
    "softsign N": ("softsign", "normalized"),
    "relu He": ("relu", "he"),  # not in the paper: the later fix, as an extra row
}
# Figures 2–3 (standard init), and "tanh N" beside "tanh" for Section 4.3's gradient trends.
CURVE_NETWORKS = ("sigmoid", "tanh", "tanh N", "softsign")
SATURATION_Z = {
    "sigmoid": SIGMOID_SATURATION_Z,
    "tanh": TANH_SATURATION_Z,
    "softsign": SOFTSIGN_SATURATION_Z,
}


def network(label: str, hidden: int, width: int) -> MLPSpec:
    """[784, width × hidden, 10] with the row ``label``'s activation and init, softmax + NLL."""
    activation, init = NETWORKS[label]
    return MLPSpec((784, *[width] * hidden, 10), activation, init, cost="softmax_ce")


def network_names(text: str) -> tuple[str, ...]:
    """ "tanh,tanh N" -> ("tanh", "tanh N"): a flag's comma-separated network labels."""
    return tuple(text.split(","))


def check_records(train_images: int, batch_size: int, record_every: int) -> None:
    """An epoch has at least one update, and a record falls every ``record_every`` of them
    (UsageError naming the flags otherwise)."""
    steps = train_images // batch_size
    cli.check(steps >= 1, f"--batch-size {batch_size} is more than --train-images {train_images}")
    cli.check(
        steps % record_every == 0,
        f"--record-every {record_every} must divide the {steps} updates per epoch "
        f"(--train-images / --batch-size)",
    )


@dataclasses.dataclass(frozen=True)
class Study:
    """Every knob of the study; each field is one flag of experiments/initialization.py."""

    width: int = flags.count(100, "Table 1: units per hidden layer (the paper: 1,000).")
    hidden: int = flags.count(5, "Table 1: hidden layers (the paper: 5).")
    epochs: int = flags.count(5, "Table 1: epochs over the training images.")
    lrs: tuple[float, ...] = flag(
        (0.01, 0.03, 0.1, 0.3),
        "Table 1: learning rates, comma-separated; each row keeps the best on validation.",
        type=cli.float_list,
    )
    seeds: int = flags.count(
        3, "Table 1: seeds per network, vmapped with the learning rates; mean ± sd over them."
    )
    batch_size: int = flags.batch_size(10, "SGD mini-batch size.")
    train_images: int = flags.count(50_000, "Train on the first N of the 50,000 training images.")
    networks: tuple[str, ...] = flag(
        tuple(NETWORKS),
        f"Networks of Table 1 and of the at-init rows, comma-separated, of: {', '.join(NETWORKS)}.",
        type=network_names,
    )
    init_width: int = flags.count(
        256, "At init: units per hidden layer (the paper: 1,000; each n×n SVD grows as n³)."
    )
    init_hidden: int = flags.count(5, "At init: hidden layers.")
    init_seeds: int = flags.count(8, "At init: seeds, vmapped.")
    init_images: int = flags.count(300, "At init: the first N test images, the fixed batch.")
    jacobian_examples: int = flags.count(
        2, "At init: examples per seed whose layer Jacobians are decomposed."
    )
    curve_width: int = flags.count(500, "Curves: units per hidden layer (the paper: 1,000).")
    curve_hidden: int = flags.count(4, "Curves: hidden layers.")
    curve_epochs: int = flags.count(1, "Curves: epochs.")
    curve_lr: float = flags.learning_rate(0.1, "Curves: learning rate.")
    record_every: int = flags.count(
        250, "Curves: updates between records; must divide the updates per epoch."
    )
    probe_images: int = flags.count(300, "Curves: the first N test images, the fixed probe.")
    curve_networks: tuple[str, ...] = flag(
        CURVE_NETWORKS, "Curves: networks, comma-separated.", type=network_names
    )

    def __post_init__(self):
        object.__setattr__(self, "lrs", tuple(self.lrs))
        object.__setattr__(self, "networks", tuple(self.networks))
        object.__setattr__(self, "curve_networks", tuple(self.curve_networks))
        unknown = [n for n in (*self.networks, *self.curve_networks) if n not in NETWORKS]
        if unknown:
            raise UsageError(f"unknown network {unknown[0]!r}; choose from {', '.join(NETWORKS)}")
        check_records(self.train_images, self.batch_size, self.record_every)
        cli.check(
            self.jacobian_examples <= self.init_images,
            f"--jacobian-examples {self.jacobian_examples} is more than --init-images "
            f"{self.init_images}",
        )

    @classmethod
    def tiny(cls) -> Study:
        """Seconds on a CPU: for tests."""
        return cls(
            width=16,
            hidden=2,
            epochs=1,
            lrs=(0.05, 0.1),
            seeds=2,
            train_images=200,
            networks=("tanh", "tanh N"),
            init_width=32,
            init_hidden=3,
            init_seeds=4,
            init_images=20,
            jacobian_examples=2,
            curve_width=16,
            curve_hidden=2,
            curve_epochs=1,
            record_every=5,
            probe_images=20,
            curve_networks=("tanh",),
        )

    @property
    def updates_per_epoch(self) -> int:
        return self.train_images // self.batch_size


# ----------------------------------------------------------------------------- forward


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


# ----------------------------------------------------------------------------- Jacobians


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


# ----------------------------------------------------------------------------- at init


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


# ----------------------------------------------------------------------------- training


def sgd_step(net: MLPSpec, params, images, targets, lr):
    """One step of plain SGD on the batch-mean cost: the engine's update
    (:func:`cnn_jax.training.sgd.train_epoch`) without dropout or L2."""

    def loss(p):
        return net.cost_fn(net.model().apply({"params": p}, images), targets)

    grads = jax.grad(loss)(params)
    return jax.tree.map(lambda w, g: w - lr * g, params, grads)


def train_recorded(
    net: MLPSpec,
    params,
    key,
    lr,
    train,
    probe,
    *,
    epochs,
    batch_size,
    every,
    record: Callable = layer_stats,
):
    """Mini-batch SGD for ``epochs`` shuffled epochs (last partial batch dropped), recording
    ``record(net, params, *probe)`` (default :func:`layer_stats`) on ``probe`` (images,
    one-hot targets) at init and after every ``every`` updates, which must divide the
    updates per epoch. Pure: vmaps over (params, key) for seeds.

    Returns (final params, {stat: [R, ...]}) with R = 1 + epochs·(updates per epoch)/every."""
    images, targets = train
    steps = images.shape[0] // batch_size
    if steps % every:
        raise ValueError(f"every={every} must divide the {steps} updates per epoch")

    def step(p, idx):
        return sgd_step(net, p, images[idx], targets[idx], lr), None

    def chunk(p, idx):  # idx [every, B]
        p, _ = jax.lax.scan(step, p, idx)
        return p, record(net, p, *probe)

    def epoch(p, e):
        batches = epoch_batches(key, e, images.shape[0], batch_size)
        batches = batches.reshape(steps // every, every, batch_size)
        return jax.lax.scan(chunk, p, batches)

    first = record(net, params, *probe)
    params, records = jax.lax.scan(epoch, params, jnp.arange(epochs))
    records = jax.tree.map(
        lambda r, f: jnp.concatenate([f[None], r.reshape(-1, *r.shape[2:])]), records, first
    )
    return params, records


@functools.partial(jax.jit, static_argnames=("net", "epochs", "batch_size", "every"))
def _train_recorded(params, key, lr, train, probe, *, net, epochs, batch_size, every):
    _, records = train_recorded(
        net, params, key, lr, train, probe, epochs=epochs, batch_size=batch_size, every=every
    )
    return records


def training_curves(net: MLPSpec, init_key, train_key, lr, train, probe, *, study: Study):
    """One run of :func:`train_recorded` from the init drawn with ``init_key``: numpy."""
    params = jax.tree.map(lambda x: x[0], draw_params(net.model(), init_key[None]))
    return jax.device_get(
        _train_recorded(
            params,
            train_key,
            jnp.float32(lr),
            train,
            probe,
            net=net,
            epochs=study.curve_epochs,
            batch_size=study.batch_size,
            every=study.record_every,
        )
    )


# ----------------------------------------------------------------------------- Table 1


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


# ----------------------------------------------------------------------------- the study


def check_data(study: Study, mnist: data_lib.Mnist, *, table: bool) -> None:
    """Refuse (UsageError, one line) a study that asks for more images than ``mnist`` has,
    or Table 1 without the 10,000 validation images."""
    n_train, n_test = len(mnist.train_labels), len(mnist.test_labels)
    cli.check_count("--train-images", study.train_images, min(50_000, n_train), "training images")
    cli.check_count("--init-images", study.init_images, n_test, "test images")
    cli.check_count("--probe-images", study.probe_images, n_test, "test images")
    cli.check(
        n_train > 50_000 or not table,
        f"Table 1 needs 60,000 training images (50,000 + 10,000 validation), got "
        f"{n_train:,}; pass --no-table",
    )


def open_rows(out, study: Study, *, seed: int, table: bool) -> RowStore:
    """The finished rows of this run in ``out`` (another configuration's rows there are
    refused: UsageError)."""
    total = len(study.networks) * (1 + table) + len(study.curve_networks)
    kinds = {"init": len(study.networks), "curve": len(study.curve_networks)}
    kinds |= {"table": len(study.networks)} if table else {}
    config = {"study": dataclasses.asdict(study), "seed": seed, "table": table}
    return RowStore(out, config, total, kinds)


def _saved_row(store: RowStore, key: str, compute: Callable[[], dict], hint: str, log) -> dict:
    """Row ``key`` from ``store``, else ``compute()`` it, check that every number is finite
    (else :class:`Diverged` naming the row, the number and ``hint``), save it and ``log``
    the whole run's progress."""
    saved = store.get(key)
    if saved is not None:
        return saved
    row = compute()
    if (where := non_finite(row)) is not None:
        raise Diverged(f"{key}: {where} is not finite; {hint}")
    store.put(key, row)
    log(store.pace())
    return row


def init_row(label: str, study: Study, keys, fixed, jacobian_images) -> dict:
    """One network's statistics at init over the seed keys [S]: spreads over seeds."""
    net = network(label, study.init_hidden, study.init_width)
    stats = init_stats(net, keys, *fixed, jacobian_images)
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        **{name: spread(v) for name, v in stats.items()},
        "backprop_ratio_first_to_last": spread(
            stats["backprop_var"][:, :1] / stats["backprop_var"][:, -1:]
        )["median"][0],
        "jacobian_mean_hidden_to_hidden": spread(
            np.mean(stats["jacobian_singular_value"][:, 1:], axis=1, keepdims=True)
        ),
    }


def curve_row(label: str, study: Study, key, train, probe) -> dict:
    """One network's activation statistics during training (Figures 2–3)."""
    net = network(label, study.curve_hidden, study.curve_width)
    init_k, train_k = jax.random.split(key)
    records = training_curves(net, init_k, train_k, study.curve_lr, train, probe, study=study)
    return {
        "network": net.name,
        "activation": net.activation,
        "init": net.init,
        "updates": [i * study.record_every for i in range(len(records["mean"]))],
        **{k: np.asarray(v, np.float64).tolist() for k, v in records.items()},
        **gradient_trends(records, study.record_every),
    }


def gradient_trends(records: dict, every: int) -> dict:
    """Section 4.3's quantities from a curve's records (``backprop_var`` [R, H],
    ``weight_grad_var`` [R, H + 1]), per record [R]: Var(∂C/∂s) of the first hidden layer
    over the last's (< 1: shrinking toward the input), Var(∂C/∂W) of the first hidden layer
    over the last hidden one's, and the largest over the smallest weight-gradient variance of
    the hidden layers; plus the first update at which the back-propagated ratio reaches 1
    (None when it never does)."""
    back = np.asarray(records["backprop_var"], np.float64)
    weight = np.asarray(records["weight_grad_var"], np.float64)[:, :-1]  # hidden layers
    ratio = back[:, 0] / back[:, -1]
    reached = np.nonzero(ratio >= 1.0)[0]
    return {
        "backprop_ratio_first_to_last": ratio.tolist(),
        "weight_grad_ratio_first_to_last": (weight[:, 0] / weight[:, -1]).tolist(),
        "weight_grad_spread": (weight.max(1) / weight.min(1)).tolist(),
        "backprop_reversed_at": int(reached[0]) * every if len(reached) else None,
    }


def _table_row(label, study, key, data, store: RowStore, progress, log) -> dict:
    """:func:`table_row` with a checkpoint per epoch under ``<out>/checkpoints`` (a rerun
    continues it), its divergence named by row and flag."""
    train, validation, test = data
    init_k, train_k = jax.random.split(key)
    checkpoint = store.out / "checkpoints" / f"table-{slug(label)}"
    net = network(label, study.hidden, study.width)
    try:
        row = table_row(
            net, study, init_k, train_k, train, validation, test, progress, label, checkpoint
        )
    except Diverged as e:
        raise Diverged(f"Table 1 {label}: {e} (--lrs)") from None
    shutil.rmtree(checkpoint, ignore_errors=True)
    log(f"{label}: test error {row['test_error']:.2f} %")
    return row


def measure(
    mnist: data_lib.Mnist,
    study: Study,
    store: RowStore,
    *,
    seed: int,
    progress: Callable | None = None,
    log: Callable[[str], None] = lambda line: None,
    table: bool = True,
) -> dict:
    """Every number of the study as plain JSON-ready values (``results.json``). Each row
    is saved in ``store`` as it finishes and read back on a rerun."""
    started = time.perf_counter()
    init_key, curve_key, table_key = jax.random.split(jax.random.key(seed), 3)
    train_part, validation = data_lib.nielsen_split(mnist)
    test_images, test_labels = mnist.test_images, mnist.test_labels
    fixed = sgd.to_device(test_images[: study.init_images], test_labels[: study.init_images])
    probe = sgd.to_device(test_images[: study.probe_images], test_labels[: study.probe_images])
    train = sgd.to_device(
        train_part.train_images[: study.train_images], train_part.train_labels[: study.train_images]
    )
    keys = jax.random.split(init_key, study.init_seeds)
    jacobian_images = fixed[0][: study.jacobian_examples]
    sections = {
        "init": lambda label: _saved_row(
            store,
            f"init {label}",
            lambda: init_row(label, study, keys, fixed, jacobian_images),
            "the network overflows at init; lower --init-hidden or --init-width",
            log,
        ),
        "curves": lambda label: _saved_row(
            store,
            f"curve {label}",
            lambda: curve_row(label, study, curve_key, train, probe),
            "non-finite activations while training; lower --curve-lr",
            log,
        ),
    }
    if table:
        data = (train, sgd.to_device(*validation), sgd.to_device(test_images, test_labels))
        sections["table"] = lambda label: _saved_row(
            store,
            f"table {label}",
            lambda: _table_row(label, study, table_key, data, store, progress, log),
            "lower --lrs",
            log,
        )
    results: dict = {"study": dataclasses.asdict(study), "seed": seed}
    timings = {}
    for section, row in sections.items():
        log(section)
        t = time.perf_counter()
        labels = study.curve_networks if section == "curves" else study.networks
        results[section] = {label: row(label) for label in labels}
        timings[f"{section}_s"] = time.perf_counter() - t
    shutil.rmtree(store.out / "checkpoints", ignore_errors=True)
    timings["total_s"] = time.perf_counter() - started
    return {**results, "timings": timings, "paper_updates": PAPER_UPDATES}


def format_table(results: dict) -> str:
    """The text tables printed at the end of a run."""
    lines = ["at init (median over seeds), per hidden layer, input side first:"]
    for label, entry in results["init"].items():
        jac = " ".join(f"{v:.3f}" for v in entry["jacobian_singular_value"]["median"])
        back = " ".join(f"{v:.2e}" for v in entry["backprop_var"]["median"])
        lines.append(f"  {label:11s} Jacobian mean singular value {jac}")
        lines.append(f"  {'':11s} Var(dC/ds) {back}")
    if "table" in results:
        lines.append("\ntest error (%), lr picked on the 10,000 validation images:")
        lines.append(f"  {'network':11s} {'lr':>6s} {'ours':>6s} {'paper':>6s}")
        for label, row in results["table"].items():
            paper = row["published_test_error"]
            paper_text = f"{paper:6.2f}" if paper is not None else "     -"
            lines.append(
                f"  {label:11s} {row['chosen_lr']:6g} {row['test_error']:6.2f} {paper_text}"
            )
            for record in row.get("diverged", []):
                lines.append(f"  {'':11s} {divergence.DIVERGED}: {divergence.describe(record)}")
    return "\n".join(lines)
