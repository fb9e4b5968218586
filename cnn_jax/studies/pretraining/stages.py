"""The pretraining stages and every row's starting point.

:func:`pretrain` trains each greedy method's stack (:data:`~.config.PRETRAINED`) for all seeds
at once (vmapped), layer by layer; each finished layer is checked for divergence
(:func:`check_stage`) and saved in the run's :class:`~cnn_jax.training.rows.RowStore`, so a
rerun reads it back instead of training it again. :func:`starting_points` turns the stacks
and the drawn inits into every row's parameters for the same network.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import cli
from cnn_jax.errors import Diverged
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.studies.pretraining import greedy
from cnn_jax.studies.pretraining import rbm as rbm_lib
from cnn_jax.studies.pretraining.config import PRETRAINED, ROWS, PretrainConfig
from cnn_jax.training import gradients as G


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
    opt = greedy.LayerSGD(config.pretrain_epochs, config.batch_size, config.ae_lr)
    sup_opt = greedy.LayerSGD(config.pretrain_epochs, config.batch_size, config.supervised_lr)
    rbm_training = rbm_lib.RBMTraining(
        epochs=config.pretrain_epochs, batch_size=config.batch_size, lr=config.rbm_lr, k=config.cd_k
    )

    def autoencoder(corruption: float) -> Method:
        def train(k, x, *, layer, width):
            return greedy.autoencoder_layer(
                x, k, layer, width, opt, corruption=corruption, tied=config.tied
            )

        return Method(train, greedy.encode, greedy.AEParams)

    return {
        "RBM": Method(
            lambda k, x, *, layer, width: rbm_lib.train_layer(x, k, layer, width, rbm_training),
            rbm_lib.hidden_probs,
            rbm_lib.RBMParams,
        ),
        "autoencoder": autoencoder(0.0),
        "denoising autoencoder": autoencoder(config.corruption),
        "supervised greedy": Method(
            lambda k, x, *, layer, width: greedy.supervised_layer(
                x, targets, k, layer, width, sup_opt
            ),
            greedy.encode,
            greedy.SupervisedLayer,
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


def pretrain_stack(
    name: str, method: Method, keys, x, config: PretrainConfig, store, bar, whole=None
):
    """One method's stack for the seed keys [S] (vmapped), layer by layer on x [N, 784]:
    each layer is checked (:func:`check_stage`) and saved in ``store``, or read back from
    it; ``whole`` (an :class:`~.estimate.WholeRun`) hears of each. Returns (layers, leaves
    [S, ...]; cost [S, epochs + 1] per layer; seconds)."""
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
            if whole is not None:
                whole.finished(key, took)
        else:
            params = method.layer_type(**{k: jnp.asarray(v) for k, v in arrays.items()})
            cost, took = np.asarray(saved["history"], np.float32), saved["seconds"]
            if whole is not None:
                whole.saved(key)
        stack.append(params)
        history.append(cost)
        seconds += took
        if layer + 1 < len(config.hidden):
            x = jax.vmap(method.codes, in_axes=(0, x_axis))(params, x)
        bar.update(1)
    return stack, history, seconds


def pretrain(
    config: PretrainConfig, x, targets, keys, store, progress=None, whole=None
) -> dict[str, dict]:
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
        stack, history, seconds = pretrain_stack(
            name, method, method_keys, x, config, store, bar, whole
        )
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
    config: PretrainConfig, x, targets, keys, store, progress=None, whole=None
) -> tuple[dict[str, Start], dict]:
    """Every row's starting parameters and the pretraining histories, for seed keys [S]."""
    net = config.net
    relu = dataclasses.replace(net, activation="relu", init="he")
    glorot = dataclasses.replace(net, init="glorot")
    init_keys = jax.vmap(lambda k: jax.random.fold_in(k, 100))(keys)
    # The papers' baseline: U[±1/√fan_in] weights and zero biases (Erhan et al.'s ‘Uniform’).
    uniform = dataclasses.replace(net, init="standard")
    baseline = uniform.init_params(init_keys)
    starts = {
        # Every sigmoid row fine-tunes ``net`` (one compiled engine); its init only drew.
        "random init": Start(net, net.init_params(init_keys), 0.0),
        "random init (zero biases)": Start(net, baseline, 0.0),
        "normalized init": Start(net, glorot.init_params(init_keys), 0.0),
    }
    pretrained = pretrain(config, x, targets, keys, store, progress, whole)
    for name in config.pretrained:
        # The fresh output layer is the baseline's: only the hidden layers differ from it.
        params = greedy.to_mlp_params(pretrained[name]["stack"], greedy.output_layer(baseline))
        starts[name] = Start(net, params, pretrained[name]["seconds"])
    starts["ReLU + He"] = Start(relu, relu.init_params(init_keys), 0.0)
    return {name: starts[name] for name in ROWS if name in config.rows}, pretrained


HISTORY_IS = {
    "RBM": "reconstruction squared error (RBM)",
    "autoencoder": "clean reconstruction cross-entropy",
    "denoising autoencoder": "clean reconstruction cross-entropy",
    "supervised greedy": "softmax cross-entropy of the temporary head",
}


def summary(pretrained: dict) -> dict:
    """results.json's "pretraining": each method's seconds and cost per epoch per layer."""
    return {
        name: {
            "seconds": p["seconds"],
            "history": [np.asarray(h).tolist() for h in p["history"]],
            "history_is": HISTORY_IS[name],
        }
        for name, p in pretrained.items()
    }
