"""Greedy layer-wise pretraining against random and normalized init, on one deep sigmoid MLP.

Hinton et al. (2006) trained a deep belief net one RBM at a time; Bengio et al. (2007) did the
same with autoencoders and with a supervised greedy procedure, and asked whether the gain came
from the unsupervised criterion. Here every starting point — Nielsen's random init, Glorot's
normalized init, an RBM stack, an autoencoder stack, a denoising autoencoder stack, a
supervised greedy stack, and ReLU with He init as the modern reference — becomes the
parameters of the same :class:`~cnn_jax.nn.mlp.MLPSpec` network and is fine-tuned by the
same engine (:mod:`cnn_jax.studies.pretraining.finetune`) with the same batch size and
epochs; each row's learning rate is picked from a grid on a validation split (the last
10,000 training images). Per row: test error over seeds at the last epoch and at each seed's
best validation epoch (early stopping), Nielsen's speed of learning ‖δˡ‖ per hidden layer at
the start of fine-tuning (:func:`cnn_jax.training.gradients.grad_stats`), and the linear
probe and nearest class mean of every hidden layer before and after fine-tuning
(:mod:`cnn_jax.studies.pretraining.readout`). :func:`measure_depths` repeats a few rows at
several depths (Erhan et al. 2010's question: does the benefit grow with depth?).

:func:`measure` computes ``results.json``'s content, :func:`format_table` prints it, and
:func:`write_figures` draws it with :mod:`cnn_jax.studies.pretraining.plots`.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from cnn_jax import cli, flags
from cnn_jax import data as data_lib
from cnn_jax.errors import Diverged
from cnn_jax.flags import flag
from cnn_jax.inside import probes
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.nn.tree import layer_names
from cnn_jax.results import provenance, save_figure, write_json
from cnn_jax.studies.pretraining import finetune as finetune_lib
from cnn_jax.studies.pretraining import plots, readout
from cnn_jax.studies.pretraining import rbm as rbm_lib
from cnn_jax.training import gradients as G
from cnn_jax.training import sgd
from cnn_jax.training.batches import epoch_batches
from cnn_jax.training.rows import RowStore, non_finite, slug

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
# The published size: 3 × 1,000 hidden units on all 50,000 training images before the
# validation split.
FULL_SIZE = {"hidden": (1000, 1000, 1000), "images": None}
TRAIN_IMAGES = 50_000  # the last 10,000 training images validate (Nielsen's split)
# The converged mode: 3 × 500 on all 50,000 images, each row fine-tuned until its best
# validation error has not improved for 5 epochs (at most 40).
CONVERGED = {"hidden": (500, 500, 500), "images": None, "epochs": 40, "patience": 5}


def row_names(text: str) -> tuple[str, ...]:
    """ "random init,RBM" -> ("random init", "RBM"): a flag's comma-separated row names."""
    return tuple(name.strip() for name in text.split(","))


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """The whole study. ``hidden`` sigmoid layers on the first ``images`` training images;
    every row is fine-tuned for ``epochs`` epochs of SGD (each rate in ``lrs``, batch_size)
    with softmax cross-entropy and keeps the rate best on ``validation`` images; pretraining
    runs ``pretrain_epochs`` epochs per layer. Each field with a help text is one flag of
    experiments/pretraining.py."""

    hidden: tuple[int, ...] = flag(
        (500, 500, 500), "Hidden layer widths, comma-separated.", type=cli.int_list
    )
    images: int | None = flags.count(
        10_000, "Train on the first N training images (of the 50,000 before validation)."
    )  # None: all 50,000
    validation: int = flags.count(
        10_000, "Pick learning rates and epochs on the first N of the last 10,000 training images."
    )
    seeds: int = flags.count(5, "Seeds per row, vmapped; at least 2.")
    epochs: int = flags.count(5, "Fine-tuning epochs of every row (at most, with --patience).")
    patience: int = flag(
        0,
        "Stop a row's fine-tuning once its validation error has not improved for N epochs "
        "(0: run every epoch).",
        type=cli.non_negative_int,
    )
    lrs: tuple[float, ...] = flag(
        (0.1, 0.3, 1.0, 3.0),
        "Fine-tuning learning rates η, comma-separated; each row keeps the best on validation.",
        type=cli.float_list,
    )
    rows: tuple[str, ...] = flag(
        ROWS, "Rows to run, comma-separated, of: " + ", ".join(ROWS) + ".", type=row_names
    )
    depths: tuple[int, ...] = flag(
        (),
        "Depth sweep: run the rows with each of these numbers of hidden layers, all as wide "
        "as the first of --hidden, comma-separated.",
        type=cli.int_list,
    )
    probe_images: int = flag(
        1000,
        "Fit the linear probes on the first N training images and score them on as many "
        "validation images (fewer when there are fewer; 0: no probes).",
        type=cli.non_negative_int,
    )
    batch_size: int = flags.batch_size(20, "Mini-batch size of fine-tuning and pretraining.")
    pretrain_epochs: int = flags.count(3, "Pretraining epochs per layer.")
    rbm_lr: float = flags.learning_rate(0.05, "Learning rate of the RBMs' CD-k.")
    cd_k: int = flags.count(1, "Gibbs steps of CD-k.")
    ae_lr: float = flags.learning_rate(0.1, "Learning rate of the (denoising) autoencoders.")
    corruption: float = flag(
        0.25, "Masking noise of the denoising autoencoder, in [0, 1).", type=cli.rate
    )
    tied: bool = True  # the script's --untied sets False: decoders with their own weights
    supervised_lr: float = flags.learning_rate(
        0.1, "Learning rate of supervised greedy pretraining."
    )
    grad_images: int = flags.count(
        1000, "Measure ‖δˡ‖ at the start of fine-tuning on the first N training images."
    )
    filters: int = flags.count(64, "First-layer filters to draw.")
    seed: int = flags.seed()

    def __post_init__(self):
        for name in ("hidden", "lrs", "rows", "depths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        images = self.images or TRAIN_IMAGES
        check = cli.check
        check(
            images <= TRAIN_IMAGES,
            f"--images {images}: at most {TRAIN_IMAGES:,} (the last 10,000 validate)",
        )
        check(self.validation <= 10_000, f"--validation {self.validation}: at most 10,000")
        unknown = [name for name in self.rows if name not in ROWS]
        check(not unknown, f"--rows: unknown {', '.join(unknown)}; choose from {', '.join(ROWS)}")
        check(
            len(self.rows) > 0 and len(set(self.rows)) == len(self.rows),
            "--rows: name each row once",
        )
        check(
            0.0 <= self.corruption < 1.0, f"--corruption must be in [0, 1), got {self.corruption}"
        )
        check(self.seeds >= 2, f"--seeds {self.seeds}: need at least 2 for a spread")
        check(
            self.filters <= min(self.hidden),
            f"--filters {self.filters} is more than the {min(self.hidden)} first-layer units",
        )
        check(
            self.grad_images <= images,
            f"--grad-images {self.grad_images} is more than the {images} images",
        )
        check(
            self.batch_size <= images,
            f"--batch-size {self.batch_size} is more than the {images} images",
        )

    @classmethod
    def full(cls, **overrides) -> PretrainConfig:
        """The published size (:data:`FULL_SIZE`)."""
        return cls(**{**overrides, **FULL_SIZE})

    @classmethod
    def tiny(cls, **overrides) -> PretrainConfig:
        """A few seconds: for tests."""
        base = dict(
            hidden=(16, 16),
            images=200,
            validation=200,
            seeds=2,
            epochs=2,
            lrs=(0.1, 1.0),
            pretrain_epochs=2,
            grad_images=100,
            probe_images=100,
            filters=4,
        )
        return cls(**{**base, **overrides})

    @property
    def pretrained(self) -> tuple[str, ...]:
        """The pretraining methods the rows need, in :data:`PRETRAINED` order."""
        return tuple(name for name in PRETRAINED if name in self.rows)

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
        batches = epoch_batches(shuffle_key, e, n, opt.batch_size)
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


def autoencoder_layer(x, key, layer: int, width: int, opt: LayerSGD, *, corruption=0.0, tied=True):
    """Layer ``layer`` (0-based) of :func:`autoencoder_stack`: an autoencoder of ``width``
    hidden units drawn and trained on x [N, V] with keys from ``fold_in(key, layer)``."""
    init_key, train_key = jax.random.split(jax.random.fold_in(key, layer))
    params = init_autoencoder(init_key, x.shape[-1], width, tied=tied)
    return train_autoencoder(params, x, train_key, opt=opt, corruption=corruption)


def autoencoder_stack(x, key, hidden: tuple[int, ...], opt: LayerSGD, *, corruption=0.0, tied=True):
    """Greedy: autoencoder l learns to reconstruct the codes of layers 1..l−1 from x [N, 784].
    Returns (one AEParams per layer, clean reconstruction cost per epoch per layer)."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        params, cost = autoencoder_layer(
            x, key, layer, width, opt, corruption=corruption, tied=tied
        )
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


def supervised_layer(x, targets, key, layer: int, width: int, opt: LayerSGD):
    """Layer ``layer`` (0-based) of :func:`supervised_stack`, drawn and trained with
    ``fold_in(key, layer)`` on x [N, V] and one-hot targets [N, 10]."""
    key_w = jax.random.fold_in(key, layer)
    params = SupervisedLayer(
        sigmoid_uniform(key_w, x.shape[-1], width),
        jnp.zeros((width,)),
        jnp.zeros((width, targets.shape[-1])),
        jnp.zeros((targets.shape[-1],)),
    )
    return train_supervised_layer(params, x, targets, key_w, opt=opt)


def supervised_stack(x, targets, key, hidden: tuple[int, ...], opt: LayerSGD):
    """Bengio et al. 2007's supervised greedy pretraining: train one hidden layer with a
    softmax on top, keep the layer, drop the softmax, add the next on its output."""
    stack, history = [], []
    for layer, width in enumerate(hidden):
        params, cost = supervised_layer(x, targets, key, layer, width, opt)
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


# The flag that sets each pretraining stage's learning rate: the one to lower on divergence.
STAGE_FLAGS = {
    "RBM": "--rbm-lr",
    "autoencoder": "--ae-lr",
    "denoising autoencoder": "--ae-lr",
    "supervised greedy": "--supervised-lr",
}


class Method(NamedTuple):
    """A greedy pretraining method: ``train(key, x, layer=, width=)`` -> (one seed's layer
    parameters, its cost before training and after each epoch [epochs + 1]); ``codes(params,
    x)``, the next layer's input; ``layer_type`` rebuilds a saved layer from its arrays."""

    train: Callable
    codes: Callable
    layer_type: type


def methods(config: PretrainConfig, targets) -> dict[str, Method]:
    """The four greedy methods, in :data:`PRETRAINED` order; targets one-hot [N, 10]."""
    opt = LayerSGD(config.pretrain_epochs, config.batch_size, config.ae_lr)
    sup_opt = LayerSGD(config.pretrain_epochs, config.batch_size, config.supervised_lr)
    rbm_training = config.rbm_training()

    def autoencoder(corruption: float) -> Method:
        def train(k, x, *, layer, width):
            return autoencoder_layer(
                x, k, layer, width, opt, corruption=corruption, tied=config.tied
            )

        return Method(train, encode, AEParams)

    return {
        "RBM": Method(
            lambda k, x, *, layer, width: rbm_lib.train_layer(x, k, layer, width, rbm_training),
            rbm_lib.hidden_probs,
            rbm_lib.RBMParams,
        ),
        "autoencoder": autoencoder(0.0),
        "denoising autoencoder": autoencoder(config.corruption),
        "supervised greedy": Method(
            lambda k, x, *, layer, width: supervised_layer(x, targets, k, layer, width, sup_opt),
            encode,
            SupervisedLayer,
        ),
    }


# Finite but past any trained layer: on inputs in [0, 1] (pixels, sigmoid codes) trained
# weights stay of order 1–10, and float32's sigmoid is flat to the last bit (σ' = 0, no
# gradient) once |z| passes ~100; weights this large are an overflow on its way.
MAX_WEIGHT = 1e6


def check_stage(name: str, layer: int, params, cost, config: PretrainConfig) -> None:
    """Raise :class:`Diverged` naming the stage, layer, epoch and flag when a pretrained
    layer's cost per epoch (cost [S, epochs + 1], any seed) is not finite, or its weights
    are not finite or beyond :data:`MAX_WEIGHT`."""
    bad = ~np.isfinite(np.asarray(cost)).all(0)  # [epochs + 1]
    largest = float(np.max([np.max(np.abs(np.asarray(w))) for w in jax.tree.leaves(params)]))
    if largest <= MAX_WEIGHT and not bad.any():  # NaN compares False: caught here too
        return
    if bad.any():
        where, what = f"epoch {max(int(np.argmax(bad)), 1)}", "a non-finite cost"
    elif not np.isfinite(largest):
        where, what = f"by epoch {len(bad) - 1}", "non-finite weights"
    else:
        where, what = f"by epoch {len(bad) - 1}", f"weights up to {largest:.3g}"
    flag = STAGE_FLAGS[name]
    value = getattr(config, flag[2:].replace("-", "_"))
    raise Diverged(
        f"{name} pretraining, layer {layer + 1}, {where}: {what}; lower {flag} (now {value:g})"
    )


def pretrain_stack(name: str, method: Method, keys, x, config: PretrainConfig, store, bar):
    """One method's stack for the seed keys [S] (vmapped), layer by layer on x [N, 784]:
    each layer is checked (:func:`check_stage`) and saved in ``store``, or read back from
    it. Returns (layers, leaves [S, ...]; cost [S, epochs + 1] per layer; seconds)."""
    stack, history, seconds = [], [], 0.0
    for layer, width in enumerate(config.hidden):
        key = f"{name} layer {layer + 1}"
        x_axis = None if layer == 0 else 0  # the images are shared; later codes per seed
        saved = store.get(key)
        arrays = store.get_arrays(key) if saved is not None else None
        if arrays is None:
            train = functools.partial(method.train, layer=layer, width=width)
            (params, cost), took = _seconds(jax.vmap(train, in_axes=(0, x_axis)), keys, x)
            check_stage(name, layer, params, cost, config)
            layer_arrays = {k: v for k, v in params._asdict().items() if v is not None}
            store.put(key, {"history": np.asarray(cost).tolist(), "seconds": took}, layer_arrays)
        else:
            params = method.layer_type(**{k: jnp.asarray(v) for k, v in arrays.items()})
            cost, took = np.asarray(saved["history"], np.float32), saved["seconds"]
        stack.append(params)
        history.append(cost)
        seconds += took
        if layer + 1 < len(config.hidden):
            x = jax.vmap(method.codes, in_axes=(0, x_axis))(params, x)
        bar.update(1)
    return stack, history, seconds


def pretrain(config: PretrainConfig, x, targets, keys, store, progress=None) -> dict[str, dict]:
    """Each pretraining method's stack for every seed key [S], vmapped over seeds:
    {method: {"stack": [layer params, leaves [S, ...]], "history": [[S, epochs + 1]] per
    layer, "seconds"}}. x [N, 784], targets one-hot [N, 10]; finished layers are saved in
    and read back from ``store`` (a :class:`~cnn_jax.training.rows.RowStore`)."""
    out = {}
    for index, (name, method) in enumerate(methods(config, targets).items()):
        if name not in config.pretrained:
            continue
        method_keys = jax.vmap(lambda k, i=index: jax.random.fold_in(k, i))(keys)
        desc = f"[{index + 1}/{len(PRETRAINED)}] pretrain {name}, layers"
        bar = (progress or cli.silent)(desc, len(config.hidden))
        stack, history, seconds = pretrain_stack(name, method, method_keys, x, config, store, bar)
        bar.close()
        out[name] = {"stack": stack, "history": history, "seconds": seconds}
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
    config: PretrainConfig, x, targets, keys, store, progress=None
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
    pretrained = pretrain(config, x, targets, keys, store, progress)
    for name in config.pretrained:
        # The fresh output layer is the random-init row's: only the hidden layers differ.
        params = to_mlp_params(pretrained[name]["stack"], _output_layer(random_params))
        starts[name] = Start(net, params, pretrained[name]["seconds"])
    starts["ReLU + He"] = Start(relu, relu.init_params(init_keys), 0.0)
    return {name: starts[name] for name in ROWS if name in config.rows}, pretrained


def _filters(weights, count: int) -> list[list[float]]:
    """The first ``count`` columns of a first-layer weight matrix [784, H] of seed 0, as
    rows of 784 numbers (4 significant digits: this is a picture)."""
    w = np.asarray(weights)[0, :, :count].T
    return [[float(f"{v:.4g}") for v in row] for row in w]


def open_rows(out: str | Path, config: PretrainConfig) -> RowStore:
    """The finished layers and rows of ``config``'s run in ``out`` (another config's rows
    there are refused: UsageError)."""
    total = len(config.pretrained) * len(config.hidden) + len(config.rows)
    return RowStore(out, dataclasses.asdict(config), total)


class Data(NamedTuple):
    """What fine-tuning reads: seed keys [S], the splits (images, one-hot targets) on the
    device, the ‖δˡ‖ probe batch, and the readout probes' (images, int labels) fit/score."""

    keys: jax.Array
    train: tuple
    validation: tuple
    test: tuple
    grad_probe: tuple
    probe_fit: tuple
    probe_score: tuple


def finetune(name: str, start: Start, config: PretrainConfig, data: Data, store, progress, desc):
    """Fine-tune one row's start for every seed and learning rate (a checkpoint per epoch
    under ``<out>/checkpoints``), pick the rate on validation, probe its hidden layers before
    and after (seed 0), and save the row. ``desc`` names its progress bar."""
    checkpoint = store.out / "checkpoints" / slug(name)
    stats = jax.device_get(start_stats(start.params, *data.grad_probe, net=start.net))
    t0 = time.perf_counter()
    try:
        params, curves, diverged = finetune_lib.finetune(
            start.net,
            config.lrs,
            start.params,
            data.keys,
            (data.train, data.validation, data.test),
            epochs=config.epochs,
            batch_size=config.batch_size,
            patience=config.patience,
            checkpoint=checkpoint,
            progress=progress,
            desc=desc,
        )
    except Diverged as e:
        raise Diverged(f"fine-tuning {name}: {e}; lower --lrs") from None
    seconds = time.perf_counter() - t0
    choice = finetune_lib.choose(curves, diverged, config.lrs)
    readouts = {}
    if config.probe_images:
        first = jax.tree.map(lambda x: x[0], start.params)
        tuned = jax.tree.map(lambda x: x[choice["chosen"] * config.seeds], params)
        readouts = {
            when: readout.probe_layers(start.net, p, data.probe_fit, data.probe_score)
            for when, p in (("before", first), ("after", tuned))
        }
    row = _row(name, start, stats, curves, diverged, choice, config, seconds)
    row["readout"] = readouts
    if (where := non_finite(row)) is not None:
        raise Diverged(f"fine-tuning {name}: {where} is not finite; lower --lrs")
    store.put(name, row)
    shutil.rmtree(checkpoint, ignore_errors=True)
    return row


def split_data(mnist: data_lib.Mnist, config: PretrainConfig, keys: jax.Array) -> Data:
    """The training images (the first ``images`` of the first 50,000), the validation images
    (the first ``validation`` of the last 10,000) and the 10,000 test images, on the device."""
    rest, (val_images, val_labels) = data_lib.nielsen_split(mnist)
    train, test = sgd.device_data(rest, config.images)
    validation = sgd.to_device(val_images[: config.validation], val_labels[: config.validation])
    n = min(config.probe_images, len(train[0]), len(validation[0]))
    return Data(
        jax.vmap(lambda k: jax.random.fold_in(k, 200))(keys),
        train,
        validation,
        test,
        (train[0][: config.grad_images], train[1][: config.grad_images]),
        (train[0][:n], readout.labels(train[1][:n])),
        (validation[0][:n], readout.labels(validation[1][:n])),
    )


def input_readout(data: Data) -> dict:
    """The probes on the pixels themselves: what any layer is measured against."""
    x, xs = probes.flatten(data.probe_fit[0]), probes.flatten(data.probe_score[0])
    y, ys = jnp.asarray(data.probe_fit[1]), jnp.asarray(data.probe_score[1])
    return {
        "probe_accuracy": float(probes.fit_linear_probe(x, y, xs, ys)["test_accuracy"]),
        "nearest_mean_accuracy": float(probes.nearest_mean_accuracy(x, y, xs, ys)),
    }


def measure(mnist: data_lib.Mnist, config: PretrainConfig, store: RowStore, *, progress=None):
    """Every number of the study: ``results.json``'s content. Finished layers and rows are
    saved in ``store`` as they finish and read back on a rerun. ``progress(desc, total)``:
    a tqdm-like bar factory (default silent)."""
    start = time.perf_counter()
    keys = jax.random.split(jax.random.key(config.seed), config.seeds)
    data = split_data(mnist, config, keys)
    x = data.train[0].reshape(data.train[0].shape[0], -1)  # [N, 784]
    starts, pretrained = starting_points(config, x, data.train[1], keys, store, progress)
    rows = {}
    for i, (name, s) in enumerate(starts.items(), start=1):
        desc = f"[{i}/{len(starts)}] fine-tune {name}, epochs"
        rows[name] = store.get(name) or finetune(name, s, config, data, store, progress, desc)
    shutil.rmtree(store.out / "checkpoints", ignore_errors=True)
    _add_gaps(rows)
    lrs = ", ".join(f"{lr:g}" for lr in config.lrs)
    budget = f"{config.epochs} epochs"
    if config.patience:
        budget = (
            f"up to {config.epochs} epochs (stopped once {config.patience} passed without a "
            "better validation error)"
        )
    return {
        "description": f"{config.net.name} (sigmoid hidden layers; ReLU for its row) on the "
        f"first {len(x):,} MNIST training images, fine-tuned "
        f"{budget} of SGD (batch "
        f"{config.batch_size}, softmax cross-entropy), each row at the learning rate of "
        f"{{{lrs}}} with the lowest validation error on {len(data.validation[0]):,} of the last "
        f"10,000 training images; test error on the {len(data.test[0]):,} test images over "
        f"{config.seeds} seeds, at the last epoch and at each seed's best validation epoch; "
        f"‖δˡ‖ = ‖∂C/∂bˡ‖ on the first {config.grad_images} training images at the start of "
        "fine-tuning",
        "config": dataclasses.asdict(config),
        "network": config.net.name,
        "layers": [f"dense{i}" for i in range(1, len(config.hidden) + 2)],
        "rows": rows,
        "input_readout": input_readout(data) if config.probe_images else {},
        "pretraining": _pretraining_summary(pretrained),
        "filters": {
            name: _filters(pretrained[name]["stack"][0].weights, config.filters)
            for name in ("RBM", "autoencoder", "denoising autoencoder")
            if name in pretrained
        },
        "timings": {"total_s": time.perf_counter() - start},
    }


def _add_gaps(rows: dict) -> None:
    """Each row's test-error gap to random init (points; negative: lower error), at the
    best validation epoch and at the last: the number Bengio et al. 2007 and Erhan et al.
    2010 report as the benefit of pretraining."""
    if "random init" not in rows:
        return
    base = rows["random init"]
    for r in rows.values():
        r["gap_to_random_init"] = (
            r["early_stopping_test_error_mean"] - base["early_stopping_test_error_mean"]
        )
        r["gap_to_random_init_last_epoch"] = r["test_error_mean"] - base["test_error_mean"]


def depth_config(config: PretrainConfig, depth: int) -> PretrainConfig:
    """``config`` with ``depth`` hidden layers as wide as its first."""
    return dataclasses.replace(config, hidden=(config.hidden[0],) * depth, depths=())


def measure_depths(mnist: data_lib.Mnist, config: PretrainConfig, out, *, progress=None):
    """:func:`measure` at each of ``config.depths``, each resumable in ``<out>/depth<d>``:
    {"description", "config", "depths": {"1": results, ...}, "timings"}."""
    start = time.perf_counter()
    results = {}
    for depth in config.depths:
        sub = depth_config(config, depth)
        store = open_rows(Path(out) / f"depth{depth}", sub)
        results[str(depth)] = measure(mnist, sub, store, progress=progress)
        store.finish()
    first = next(iter(results.values()))
    return {
        "description": f"the rows {', '.join(config.rows)} with "
        f"{', '.join(map(str, config.depths))} hidden layers of {config.hidden[0]}; "
        + first["description"].split(" on the ", 1)[1],
        "config": dataclasses.asdict(config),
        "depths": results,
        "timings": {"total_s": time.perf_counter() - start},
    }


HISTORY_IS = {
    "RBM": "reconstruction squared error (RBM)",
    "autoencoder": "clean reconstruction cross-entropy",
    "denoising autoencoder": "clean reconstruction cross-entropy",
    "supervised greedy": "softmax cross-entropy of the temporary head",
}


def _pretraining_summary(pretrained: dict) -> dict:
    return {
        name: {
            "seconds": p["seconds"],
            "history": [np.asarray(h).tolist() for h in p["history"]],
            "history_is": HISTORY_IS[name],
        }
        for name, p in pretrained.items()
    }


def _mean_sd(values) -> tuple[float, float]:
    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _row(name, start: Start, stats: G.GradStats, curves, diverged, choice, config, seconds):
    """One table row: test error (%) over seeds at the chosen rate, at the last epoch and
    at the best validation epoch; the validation curves of every rate; ‖δˡ‖ at the start."""
    n = len(config.lrs)
    per_rate = {
        k: np.asarray(curves[k], np.float64).reshape(n, config.seeds, -1)
        for k in finetune_lib.CURVES
    }
    c = choice["chosen"]
    delta = np.asarray(stats.delta_norm, np.float64)  # [S, L]
    hidden = delta[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 is caught as non-finite
        ratio = hidden[:, 0] / hidden[:, -1]
    final_mean, final_sd = _mean_sd(choice["final_test_error"])
    early_mean, early_sd = _mean_sd(choice["early_stopping_test_error"])
    return {
        "network": start.net.name,
        "activation": start.net.activation,
        "lrs": list(config.lrs),
        "chosen_lr": choice["chosen_lr"],
        "validation_score": choice["validation_score"],
        "diverged_lrs": [
            float(lr)
            for lr, d in zip(config.lrs, np.asarray(diverged).reshape(n, -1).any(1), strict=True)
            if d
        ],
        "epochs_run": int(per_rate["validation"].shape[2]),
        "final_test_error": choice["final_test_error"],
        "test_error_mean": final_mean,
        "test_error_sd": final_sd,
        "early_stopping_test_error": choice["early_stopping_test_error"],
        "early_stopping_test_error_mean": early_mean,
        "early_stopping_test_error_sd": early_sd,
        "best_epoch": choice["best_epoch"],
        "best_validation_error": choice["best_validation_error"],
        "train_error_by_epoch": per_rate["train"][c].tolist(),
        "validation_error_by_epoch": per_rate["validation"][c].tolist(),
        "validation_error_by_lr": per_rate["validation"].mean(1).tolist(),
        "delta_norm": delta.tolist(),
        "delta_norm_median": np.median(delta, axis=0).tolist(),
        "first_over_last_hidden": ratio.tolist(),
        "first_over_last_hidden_median": float(np.median(ratio)),
        "pretrain_s": start.pretrain_seconds,
        "finetune_s": seconds,
    }


def format_table(results: dict) -> str:
    """The study's table as text (a depth sweep: one table per depth)."""
    if "depths" in results:
        return "\n".join(
            f"\n{depth} hidden layer(s):" + format_table(r)
            for depth, r in results["depths"].items()
        )
    n_hidden = len(results["layers"]) - 1
    head = "".join(f"{f'‖δ{i + 1}‖':>10}" for i in range(n_hidden))
    lines = [
        "",
        results["description"],
        "",
        f"{'start':<24}{'lr':>6}{'last epoch %':>16}{'early stop %':>16}{head}{'δ1/δL':>9}"
        f"{'pretrain s':>12}{'fine-tune s':>13}",
    ]
    for name, r in results["rows"].items():
        deltas = "".join(f"{d:10.2e}" for d in r["delta_norm_median"][:n_hidden])
        error = f"{r['test_error_mean']:.2f} ± {r['test_error_sd']:.2f}"
        early = (
            f"{r['early_stopping_test_error_mean']:.2f} ± {r['early_stopping_test_error_sd']:.2f}"
        )
        lines.append(
            f"{name:<24}{r['chosen_lr']:>6g}{error:>16}{early:>16}{deltas}"
            f"{r['first_over_last_hidden_median']:9.3f}{r['pretrain_s']:12.1f}{r['finetune_s']:13.1f}"
        )
    lines.append(
        "(lr: picked on validation; ‖δˡ‖: median over seeds; fine-tune s of a network's first "
        "row includes compiling)"
    )
    readouts = {name: r["readout"] for name, r in results["rows"].items() if r.get("readout")}
    if readouts:
        lines += [
            "",
            "linear probe accuracy per hidden layer (seed 0), before → after fine-tuning:",
        ]
        for name, ro in readouts.items():
            before, after = ro["before"], ro["after"]
            cells = "  ".join(
                f"{layer} {before[layer]['probe_accuracy']:.3f}"
                f"→{after[layer]['probe_accuracy']:.3f}"
                for layer in before
            )
            lines.append(f"{name:<24}{cells}")
    return "\n".join(lines)


def write_figures(results: dict, out: str | Path) -> None:
    """filters.png, validation_error.png and delta_norms.png in ``out``; a depth sweep:
    depth_spread.png."""
    out = Path(out)
    if "depths" in results:
        errors = {
            depth: {name: r["early_stopping_test_error"] for name, r in d["rows"].items()}
            for depth, d in results["depths"].items()
        }
        save_figure(plots.plot_depth_spread(errors), out / "depth_spread.png")
        return
    if results["filters"]:
        save_figure(plots.plot_filters(results["filters"]), out / "filters.png")
    curves = {name: r["validation_error_by_epoch"] for name, r in results["rows"].items()}
    save_figure(plots.plot_test_error(curves, "validation"), out / "validation_error.png")
    n_hidden = len(results["layers"]) - 1
    deltas = {name: r["delta_norm"] for name, r in results["rows"].items()}
    save_figure(
        plots.plot_delta_norms(deltas, results["layers"], n_hidden), out / "delta_norms.png"
    )


# ----------------------------------------------------------------------------- the script


def add_preset_flags(p: cli.Parser) -> None:
    """pretraining.py's flags beside PretrainConfig's fields: the two size presets and
    untied autoencoders."""
    p.add_argument(
        "--full",
        action="store_true",
        help="Run the published size: 3 × 1,000 hidden units on all 50,000 training images "
        "(overrides --hidden and --images).",
    )
    p.add_argument(
        "--converged",
        action="store_true",
        help="Run until validation stalls: 3 × 500 on all 50,000 training images, each row "
        "up to 40 epochs with --patience 5 (overrides --hidden, --images, --epochs and "
        "--patience); choose the rows with --rows.",
    )
    p.add_argument(
        "--untied",
        dest="tied",
        action="store_false",
        default=argparse.SUPPRESS,  # absent: the config's own default
        help="Give the autoencoders their own decoder weights.",
    )


def preset(*, full: bool, converged: bool) -> dict:
    """The PretrainConfig fields that --full or --converged set (none without either)."""
    cli.check(not (full and converged), "--full and --converged: choose one")
    return FULL_SIZE if full else CONVERGED if converged else {}


def run(
    mnist: data_lib.Mnist,
    config: PretrainConfig,
    out: Path,
    *,
    args: dict,
    started: float,
    progress,
) -> dict:
    """Measure ``config`` into ``out`` (held by the caller): rows, or depths with
    ``config.depths``; write results.json (the flags under "args") and the figures."""
    if config.depths:
        store = None
        results = measure_depths(mnist, config, out, progress=progress)
    else:
        store = open_rows(out, config)
        results = measure(mnist, config, store, progress=progress)
    args_json = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}
    results = {"args": args_json, **results, "provenance": provenance(started)}
    write_json(out / "results.json", results)
    if store is not None:
        store.finish()
    print(format_table(results))
    write_figures(results, out)
    return results
