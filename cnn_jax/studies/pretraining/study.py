"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

Hinton et al. (2006) trained a deep belief net one RBM at a time; Bengio et al. (2007) did the
same with autoencoders and with a supervised greedy procedure, and asked whether the gain came
from the unsupervised criterion. Here every starting point — Nielsen's random init, Glorot's
normalized init, an RBM stack, an autoencoder stack, a denoising autoencoder stack, a
supervised greedy stack, and ReLU with He init as the modern reference — becomes the
parameters of the same :class:`~cnn_jax.nn.mlp.MLPSpec` network and is fine-tuned by the
same engine (:func:`cnn_jax.training.sgd.run_sweep`) with the same learning rate, batch size
and epochs. Per row: test error over seeds, and Nielsen's speed of learning ‖δˡ‖ per hidden
layer at the start of fine-tuning (:func:`cnn_jax.training.gradients.grad_stats`).

:func:`measure` computes ``results.json``'s content, :func:`format_table` prints it, and
:func:`write_figures` draws it with :mod:`cnn_jax.studies.pretraining.plots`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_jax import data as data_lib
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.nn.tree import layer_names
from cnn_jax.results import save_figure
from cnn_jax.studies.pretraining import plots
from cnn_jax.studies.pretraining import rbm as rbm_lib
from cnn_jax.training import gradients as G
from cnn_jax.training import sgd

ROWS = (
    "random init",
    "normalized init",
    "RBM",
    "autoencoder",
    "denoising autoencoder",
    "supervised greedy",
    "ReLU + He",
)
PRETRAINED = ("RBM", "autoencoder", "denoising autoencoder", "supervised greedy")


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """The whole study. ``hidden`` sigmoid layers on the first ``images`` training images;
    every row is fine-tuned for ``epochs`` epochs of SGD (lr, batch_size) with softmax
    cross-entropy; pretraining runs ``pretrain_epochs`` epochs per layer."""

    # 3 × 500 on 10,000 images, 5 fine-tuning epochs: under 5 minutes on 2 CPU cores.
    hidden: tuple[int, ...] = (500, 500, 500)
    images: int | None = 10_000  # None: all 60,000
    seeds: int = 3
    epochs: int = 5
    lr: float = 0.1
    batch_size: int = 20
    pretrain_epochs: int = 3
    rbm_lr: float = 0.05
    cd_k: int = 1
    ae_lr: float = 0.1
    corruption: float = 0.25  # masking noise of the denoising autoencoder
    tied: bool = True
    supervised_lr: float = 0.1
    grad_images: int = 1000  # ‖δˡ‖ at the start of fine-tuning on the first N training images
    filters: int = 64  # first-layer filters kept for the figure
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if not 0.0 <= self.corruption < 1.0:
            raise ValueError(f"corruption must be in [0, 1), got {self.corruption}")
        if self.grad_images > (self.images or 60_000):
            raise ValueError(f"grad_images {self.grad_images} > images {self.images}")

    @classmethod
    def tiny(cls, **overrides) -> PretrainConfig:
        """A few seconds: for tests."""
        base = dict(
            hidden=(16, 16),
            images=200,
            seeds=2,
            epochs=2,
            pretrain_epochs=2,
            grad_images=100,
            filters=4,
        )
        return cls(**{**base, **overrides})

    @property
    def net(self) -> MLPSpec:
        """The sigmoid network every sigmoid row fine-tunes (its init: the random-init row)."""
        return MLPSpec((784, *self.hidden, 10), "sigmoid", "nielsen", cost="softmax_ce")

    def rbm_training(self) -> rbm_lib.RBMTraining:
        return rbm_lib.RBMTraining(
            epochs=self.pretrain_epochs, batch_size=self.batch_size, lr=self.rbm_lr, k=self.cd_k
        )


# ----------------------------------------------------------------------------- SGD on a layer


@dataclasses.dataclass(frozen=True)
class LayerSGD:
    """Plain mini-batch SGD with momentum for one greedy layer."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float = 0.0


def sgd_layer(loss: Callable, params, data: tuple, key: jax.Array, opt: LayerSGD, monitor):
    """Minimise mean ``loss(params, batch, key)`` over data (arrays [N, ...]) by SGD.

    Shuffles each epoch with ``permutation(fold_in(key, epoch))``; step i's key is
    ``fold_in(key', i)``. Returns (params, ``monitor(params)`` before training and after each
    epoch [epochs + 1]). Call inside jit (the loop is two ``lax.scan``s)."""
    n = data[0].shape[0]
    steps = n // opt.batch_size
    shuffle_key, step_key = jax.random.split(key)
    tx = optax.sgd(opt.lr, momentum=opt.momentum or None)

    def step(carry, inputs):
        p, state = carry
        index, idx = inputs
        batch = tuple(d[idx] for d in data)
        grads = jax.grad(loss)(p, batch, jax.random.fold_in(step_key, index))
        updates, state = tx.update(grads, state, p)
        return (optax.apply_updates(p, updates), state), None

    def epoch(carry, e):
        order = jax.random.permutation(jax.random.fold_in(shuffle_key, e), n)
        batches = order[: steps * opt.batch_size].reshape(steps, opt.batch_size)
        carry, _ = jax.lax.scan(step, carry, (e * steps + jnp.arange(steps), batches))
        return carry, monitor(carry[0])

    before = monitor(params)
    (params, _), history = jax.lax.scan(epoch, (params, tx.init(params)), jnp.arange(opt.epochs))
    return params, jnp.concatenate([before[None], history])


def sigmoid_uniform(key: jax.Array, fan_in: int, fan_out: int) -> jax.Array:
    """U(±4·√(6/(fan_in + fan_out))): Glorot's normalized range, ×4 for the sigmoid, as the
    LISA deep-learning tutorials start their autoencoders and hidden layers."""
    bound = 4.0 * np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, (fan_in, fan_out), minval=-bound, maxval=bound)


# ----------------------------------------------------------------------------- autoencoders


class AEParams(NamedTuple):
    """One autoencoder layer: encoder weights [V, H] and hidden_bias [H] (kept for the
    network), visible_bias [V], and decoder [H, V] (None when tied: the decoder is Wᵀ)."""

    weights: jax.Array
    hidden_bias: jax.Array
    visible_bias: jax.Array
    decoder: jax.Array | None = None


def init_autoencoder(key: jax.Array, visible: int, hidden: int, *, tied: bool) -> AEParams:
    enc_key, dec_key = jax.random.split(key)
    decoder = None if tied else sigmoid_uniform(dec_key, hidden, visible)
    return AEParams(
        sigmoid_uniform(enc_key, visible, hidden),
        jnp.zeros((hidden,)),
        jnp.zeros((visible,)),
        decoder,
    )


def encode(params, x: jax.Array) -> jax.Array:
    """σ(xW + c): [B, V] -> [B, H] (AEParams or a supervised layer)."""
    return jax.nn.sigmoid(rbm_lib.add_bias(x @ params.weights, params.hidden_bias))


def mask(key: jax.Array, x: jax.Array, corruption: float) -> jax.Array:
    """Masking noise: each input set to 0 with probability ``corruption``."""
    # No shortcut for 0: ``corruption`` may be traced, so the plain and the denoising
    # autoencoder share one compiled trainer (at 0 every input is kept).
    return x * jax.random.bernoulli(key, 1.0 - corruption, x.shape).astype(x.dtype)


def reconstruction_cost(params: AEParams, x: jax.Array, key: jax.Array, corruption: float):
    """Mean over x [B, V] of the cross-entropy Σ_i −[x_i log r_i + (1 − x_i) log(1 − r_i)]
    between the clean input and the reconstruction r of its masked copy."""
    h = encode(params, mask(key, x, corruption))
    decoder = params.weights.T if params.decoder is None else params.decoder
    logits = rbm_lib.add_bias(h @ decoder, params.visible_bias)
    return jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, x), -1))


@functools.partial(jax.jit, static_argnames=("opt",))
def train_autoencoder(params: AEParams, x, key, *, opt: LayerSGD, corruption: float = 0.0):
    """SGD on :func:`reconstruction_cost` of masked inputs over x [N, V]. Returns (params,
    the clean reconstruction cost on x before training and after each epoch [epochs + 1])."""
    return sgd_layer(
        lambda p, batch, k: reconstruction_cost(p, batch[0], k, corruption),
        params,
        (x,),
        key,
        opt,
        monitor=lambda p: reconstruction_cost(p, x, key, 0.0),
    )


def autoencoder_stack(x, key, hidden: tuple[int, ...], opt: LayerSGD, *, corruption=0.0, tied=True):
    """Greedy: autoencoder l learns to reconstruct the codes of layers 1..l−1 from x [N, 784].
    Returns (one AEParams per layer, clean reconstruction cost per epoch per layer)."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        init_key, train_key = jax.random.split(jax.random.fold_in(key, layer))
        params = init_autoencoder(init_key, x.shape[-1], width, tied=tied)
        params, cost = train_autoencoder(params, x, train_key, opt=opt, corruption=corruption)
        stack.append(params)
        history.append(cost)
        x = encode(params, x)
    return stack, history


# ----------------------------------------------------------------------------- supervised greedy


class SupervisedLayer(NamedTuple):
    """A hidden layer being trained greedily (kept) with its temporary softmax head (dropped)."""

    weights: jax.Array  # [V, H]
    hidden_bias: jax.Array  # [H]
    head_weights: jax.Array  # [H, 10]
    head_bias: jax.Array  # [10]


def supervised_cost(params: SupervisedLayer, x, targets) -> jax.Array:
    """Softmax cross-entropy of the temporary head on σ(xW + c); targets one-hot [B, 10]."""
    logits = rbm_lib.add_bias(encode(params, x) @ params.head_weights, params.head_bias)
    return jnp.mean(optax.softmax_cross_entropy(logits, targets))


@functools.partial(jax.jit, static_argnames=("opt",))
def train_supervised_layer(params: SupervisedLayer, x, targets, key, *, opt: LayerSGD):
    """SGD on :func:`supervised_cost`; returns (params, full-data cost [epochs + 1])."""
    return sgd_layer(
        lambda p, batch, k: supervised_cost(p, *batch),
        params,
        (x, targets),
        key,
        opt,
        monitor=lambda p: supervised_cost(p, x, targets),
    )


def supervised_stack(x, targets, key, hidden: tuple[int, ...], opt: LayerSGD):
    """Bengio et al. 2007's supervised greedy pretraining: train one hidden layer with a
    softmax on top, keep the layer, drop the softmax, add the next on its output."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        key_w = jax.random.fold_in(key, layer)
        params = SupervisedLayer(
            sigmoid_uniform(key_w, x.shape[-1], width),
            jnp.zeros((width,)),
            jnp.zeros((width, targets.shape[-1])),
            jnp.zeros((targets.shape[-1],)),
        )
        params, cost = train_supervised_layer(params, x, targets, key_w, opt=opt)
        stack.append(params)
        history.append(cost)
        x = encode(params, x)
    return stack, history


# ----------------------------------------------------------------------------- hand-off


def to_mlp_params(stack, output_layer: dict) -> dict:
    """The pretrained layers as the MLP's parameters: layer l's (weights, hidden_bias) become
    dense<l>'s (kernel, bias), and ``output_layer`` ({"kernel", "bias"}) the last dense layer.
    Works on any leading axes (seeds)."""
    params = {
        f"dense{i}": {"kernel": layer.weights, "bias": layer.hidden_bias}
        for i, layer in enumerate(stack, start=1)
    }
    params[f"dense{len(stack) + 1}"] = dict(output_layer)
    return params


def _output_layer(params: dict) -> dict:
    return params[layer_names(params)[-1]]


# ----------------------------------------------------------------------------- the study


def _seconds(f: Callable, *args):
    """(f(*args) with every array ready, seconds it took)."""
    start = time.perf_counter()
    out = jax.block_until_ready(f(*args))
    return out, time.perf_counter() - start


def pretrain(config: PretrainConfig, x, targets, keys, progress=None) -> dict[str, dict]:
    """Each pretraining method's stack for every seed key [S], vmapped over seeds:
    {method: {"stack": [layer params, leaves [S, ...]], "history": [[S, epochs + 1]] per
    layer, "seconds"}}. x [N, 784], targets one-hot [N, 10]."""
    opt = LayerSGD(config.pretrain_epochs, config.batch_size, config.ae_lr)
    sup_opt = LayerSGD(config.pretrain_epochs, config.batch_size, config.supervised_lr)
    methods = {
        "RBM": lambda k: rbm_lib.train_stack(x, k, config.hidden, config.rbm_training()),
        "autoencoder": lambda k: autoencoder_stack(x, k, config.hidden, opt, tied=config.tied),
        "denoising autoencoder": lambda k: autoencoder_stack(
            x, k, config.hidden, opt, corruption=config.corruption, tied=config.tied
        ),
        "supervised greedy": lambda k: supervised_stack(x, targets, k, config.hidden, sup_opt),
    }
    out = {}
    bar = (progress or sgd.silent)("pretraining", len(methods))
    for index, (name, train) in enumerate(methods.items()):
        method_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        (stack, history), seconds = _seconds(jax.vmap(train), method_keys)
        out[name] = {"stack": stack, "history": history, "seconds": seconds}
        bar.update(1)
    bar.close()
    return out


@functools.partial(jax.jit, static_argnames=("net",))
def start_stats(params, images, targets, *, net: MLPSpec) -> G.GradStats:
    """:func:`~cnn_jax.training.gradients.grad_stats` for each configuration in params
    (leaves [C, ...]): leaves [C, L]."""
    return jax.vmap(lambda p: G.grad_stats(net.model(), p, images, targets, net.cost_fn))(params)


class Start(NamedTuple):
    """A row's starting point: the network, parameters (leaves [S, ...]), pretraining time."""

    net: MLPSpec
    params: dict
    pretrain_seconds: float


def starting_points(
    config: PretrainConfig, x, targets, keys, progress=None
) -> tuple[dict[str, Start], dict]:
    """Every row's starting parameters and the pretraining histories, for seed keys [S]."""
    net = config.net
    relu = dataclasses.replace(net, activation="relu", init="he")
    glorot = dataclasses.replace(net, init="glorot")
    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 100))(keys)
    random_params = net.init_params(init_keys)
    starts = {
        "random init": Start(net, random_params, 0.0),
        "normalized init": Start(net, glorot.init_params(init_keys), 0.0),
    }
    pretrained = pretrain(config, x, targets, keys, progress)
    for name in PRETRAINED:
        # The fresh output layer is the random-init row's: only the hidden layers differ.
        params = to_mlp_params(pretrained[name]["stack"], _output_layer(random_params))
        starts[name] = Start(net, params, pretrained[name]["seconds"])
    starts["ReLU + He"] = Start(relu, relu.init_params(init_keys), 0.0)
    return {name: starts[name] for name in ROWS}, pretrained


def _filters(weights, count: int) -> list[list[float]]:
    """The first ``count`` columns of a first-layer weight matrix [784, H] of seed 0, as
    rows of 784 numbers (4 significant digits: this is a picture)."""
    w = np.asarray(weights)[0, :, :count].T
    return [[float(f"{v:.4g}") for v in row] for row in w]


def measure(mnist: data_lib.Mnist, config: PretrainConfig, *, progress=None) -> dict:
    """Every number of the study: ``results.json``'s content. ``progress(desc, total)``: a
    tqdm-like bar factory for the fine-tuning sweeps (default silent)."""
    start = time.perf_counter()
    train, test = sgd.device_data(mnist, config.images)
    x = train[0].reshape(train[0].shape[0], -1)  # [N, 784]
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    starts, pretrained = starting_points(config, x, train[1], keys, progress)
    hyper = sgd.hypers([config.lr] * config.seeds, 0.0, config.net.cost)
    train_keys = jax.vmap(lambda k: jax.random.fold_in(k, 200))(keys)
    probe = (train[0][: config.grad_images], train[1][: config.grad_images])
    rows = {}
    for name, s in starts.items():
        stats = jax.device_get(start_stats(s.params, *probe, net=s.net))
        t0 = time.perf_counter()
        _, metrics = sgd.run_sweep(
            s.net,
            hyper,
            keys,
            train_keys,
            train,
            test,
            epochs=config.epochs,
            batch_size=config.batch_size,
            params=s.params,
            progress=progress,
            desc=name,
        )
        rows[name] = _row(name, s, stats, metrics, time.perf_counter() - t0)
    return {
        "description": f"{config.net.name} (sigmoid hidden layers; ReLU for its row) on the "
        f"first {len(x):,} MNIST training images, fine-tuned {config.epochs} epochs of SGD "
        f"(lr {config.lr}, batch {config.batch_size}, softmax cross-entropy); test error on the "
        f"{len(test[0]):,} test images over {config.seeds} seeds; ‖δˡ‖ = ‖∂C/∂bˡ‖ on the first "
        f"{config.grad_images} training images at the start of fine-tuning",
        "config": dataclasses.asdict(config),
        "network": config.net.name,
        "layers": [f"dense{i}" for i in range(1, len(config.hidden) + 2)],
        "rows": rows,
        "pretraining": {
            name: {
                "seconds": p["seconds"],
                "history": [np.asarray(h).tolist() for h in p["history"]],
                "history_is": "reconstruction squared error (RBM)"
                if name == "RBM"
                else "clean reconstruction cross-entropy"
                if "autoencoder" in name
                else "softmax cross-entropy of the temporary head",
            }
            for name, p in pretrained.items()
        },
        "filters": {
            name: _filters(pretrained[name]["stack"][0].weights, config.filters)
            for name in ("RBM", "autoencoder", "denoising autoencoder")
        },
        "timings": {"total_s": time.perf_counter() - start},
    }


def _row(name: str, start: Start, stats: G.GradStats, metrics: dict, seconds: float) -> dict:
    """One table row: test error (%) over seeds, ‖δˡ‖ at the start, and the times."""
    test_error = 100.0 * (1.0 - np.asarray(metrics["test_accuracy"], np.float64))  # [S, E]
    train_error = 100.0 * (1.0 - np.asarray(metrics["train_accuracy"], np.float64))
    delta = np.asarray(stats.delta_norm, np.float64)  # [S, L]
    hidden = delta[:, :-1]
    ratio = hidden[:, 0] / hidden[:, -1]
    return {
        "network": start.net.name,
        "activation": start.net.activation,
        "final_test_error": test_error[:, -1].tolist(),
        "test_error_mean": float(test_error[:, -1].mean()),
        "test_error_sd": float(test_error[:, -1].std(ddof=1)) if len(delta) > 1 else 0.0,
        "test_error_by_epoch": test_error.tolist(),
        "train_error_by_epoch": train_error.tolist(),
        "delta_norm": delta.tolist(),
        "delta_norm_median": np.median(delta, axis=0).tolist(),
        "first_over_last_hidden": ratio.tolist(),
        "first_over_last_hidden_median": float(np.median(ratio)),
        "pretrain_s": start.pretrain_seconds,
        "finetune_s": seconds,
    }


def format_table(results: dict) -> str:
    """The study's table as text."""
    n_hidden = len(results["layers"]) - 1
    head = "".join(f"{f'‖δ{i + 1}‖':>10}" for i in range(n_hidden))
    lines = [
        "",
        results["description"],
        "",
        f"{'start':<24}{'test error %':>16}{head}{'δ1/δL':>9}{'pretrain s':>12}{'fine-tune s':>13}",
    ]
    for name, r in results["rows"].items():
        deltas = "".join(f"{d:10.2e}" for d in r["delta_norm_median"][:n_hidden])
        error = f"{r['test_error_mean']:.2f} ± {r['test_error_sd']:.2f}"
        lines.append(
            f"{name:<24}{error:>16}{deltas}{r['first_over_last_hidden_median']:9.3f}"
            f"{r['pretrain_s']:12.1f}{r['finetune_s']:13.1f}"
        )
    lines.append(
        "(‖δˡ‖: median over seeds; fine-tune s of a network's first row includes compiling)"
    )
    return "\n".join(lines)


def write_figures(results: dict, out: str | Path) -> None:
    """filters.png, test_error.png and delta_norms.png in ``out``."""
    out = Path(out)
    save_figure(plots.plot_filters(results["filters"]), out / "filters.png")
    curves = {name: r["test_error_by_epoch"] for name, r in results["rows"].items()}
    save_figure(plots.plot_test_error(curves), out / "test_error.png")
    n_hidden = len(results["layers"]) - 1
    deltas = {name: r["delta_norm"] for name, r in results["rows"].items()}
    save_figure(
        plots.plot_delta_norms(deltas, results["layers"], n_hidden), out / "delta_norms.png"
    )
