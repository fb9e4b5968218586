"""The study's networks as pure Flax Linen modules: ``init`` and ``apply``, no training logic.

Every model takes images [B, 28, 28, 1] (float32 in [0, 1]) and returns logits [B, 10]
(pre-activation z of the last layer); the loss applies softmax or sigmoid. Dropout
draws from the ``"dropout"`` rng and is off when ``train=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnn_jax.nn.activations import ACTIVATIONS, INITS
from cnn_jax.nn.conv import conv_fn
from cnn_jax.nn.pooling import max_pool


def _dense(features: int, init: str, name: str) -> nn.Dense:
    kernel_init, bias_init = INITS[init]
    return nn.Dense(features, kernel_init=kernel_init, bias_init=bias_init, name=name)


def _conv_layer(impl: str):
    """nn.Conv with VALID padding, Keras's init and the chosen convolution routine."""
    glorot = jax.nn.initializers.glorot_uniform()

    def make(features: int, kernel_size: tuple[int, int], name: str) -> nn.Conv:
        return nn.Conv(
            features,
            kernel_size,
            padding="VALID",
            kernel_init=glorot,
            conv_general_dilated=conv_fn(impl),
            name=name,
        )

    return make


def _tap(module: nn.Module, name: str, x: jax.Array) -> jax.Array:
    """Record ``x`` as the named layer output (kept only when "intermediates" is mutable)."""
    module.sow("intermediates", name, x)
    return x


def _layer(module: nn.Module, layer: nn.Module, x: jax.Array) -> jax.Array:
    """Apply a layer with parameters and record its output under the layer's own name, so
    the parameter path (``conv1/kernel``) and the recorded output share one name. (Flax
    keeps a sub-module's name for its own scope, so the layer records into it.)"""
    y = layer(x)
    layer.sow("intermediates", "output", y)
    return y


def recorded(intermediates: dict) -> dict[str, jax.Array]:
    """{layer name: output} in the order the layers ran, from a model's "intermediates"
    collection (``apply(..., mutable=["intermediates"])``)."""
    return {
        name: value["output"][0] if isinstance(value, dict) else value[0]
        for name, value in intermediates.items()
    }


class Dropout(nn.Module):
    """Inverted dropout (survivors scaled by 1/(1 − rate), off when ``deterministic``).

    With ``image_index`` [B] (each image's position in the whole batch), image j's mask
    comes from its own key, ``fold_in(k, image_index[j])``: the masks then do not depend on
    how the batch is split over devices or micro-batches. Without it, one mask for the
    batch from k, exactly as ``nn.Dropout`` draws it. k is the layer's ``"dropout"`` rng.
    """

    rate: float

    @nn.compact
    def __call__(self, x, *, deterministic: bool, image_index=None):
        if deterministic or self.rate == 0.0:
            return x
        key = self.make_rng("dropout")
        keep = 1.0 - self.rate
        if image_index is None:
            mask = jax.random.bernoulli(key, keep, x.shape)
        else:
            one = lambda i: jax.random.bernoulli(jax.random.fold_in(key, i), keep, x.shape[1:])  # noqa: E731
            mask = jax.vmap(one)(image_index)
        return jax.lax.select(mask, x / keep, jnp.zeros_like(x))


class MLP(nn.Module):
    """Fully connected network: flatten -> [Dense -> activation -> dropout]* -> Dense.

    ``widths`` are the layer output sizes, the last being the number of classes:
    Nielsen's [784, 30, 30, 10] is ``widths=(30, 30, 10)``.
    """

    widths: Sequence[int]
    activation: str = "sigmoid"
    weight_init: str = "nielsen"  # a key of INITS (not `init`: that is Module.init)
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False, image_index=None) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        x = _tap(self, "flatten", x.reshape(x.shape[0], -1))  # [B, 784]
        for i, width in enumerate(self.widths[:-1], start=1):
            x = _layer(self, _dense(width, self.weight_init, f"dense{i}"), x)
            x = _tap(self, f"{self.activation}{i}", act(x))
            x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        return _layer(
            self, _dense(self.widths[-1], self.weight_init, f"dense{len(self.widths)}"), x
        )


class ChainNet(nn.Module):
    """One neuron per layer: a1 = σ(w1·x + b1), ai = σ(wi·a(i-1) + bi).

    Input x [B, 1]; returns z of the last neuron [B, 1] (the output is σ(z)).
    Weights and biases start N(0, 1), as in the study's example.
    """

    depth: int = 4
    activation: str = "sigmoid"

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for i in range(self.depth):
            x = _dense(1, "large", f"dense{i + 1}")(x)
            if i < self.depth - 1:
                x = act(x)
        return x


class SeedCNN(nn.Module):
    """The study's Keras CNN, layer for layer.

    Conv 32 6×6 valid -> ReLU -> Conv 32 6×6 valid (no activation) -> MaxPool 4×4
    -> Flatten (4·4·32 = 512) -> Dense 100 -> ReLU -> Dense 10. Keras's default
    init (Glorot uniform, zero bias). With ``dropout > 0`` dropout follows the
    flatten and the Dense 100 activation; 0 is exactly the study's network.
    """

    dropout: float = 0.0
    conv: str = "auto"  # "xla", "im2col", "rows", "direct", or "auto": same numbers

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False, image_index=None) -> jax.Array:
        conv = _conv_layer(self.conv)
        if not self.is_mutable_collection("intermediates"):
            # MaxPool 4 keeps rows and columns 0-15 of conv2's 18, and the image's last
            # 2 rows and columns reach only the 2 it drops: cropping them changes no output
            # and skips 21 % of conv2's work. Recording the layers keeps every pixel.
            x = x[:, :26, :26]
        x = _layer(self, conv(32, (6, 6), "conv1"), x)  # [B, 23, 23, 32]
        x = _tap(self, "relu1", nn.relu(x))
        x = _layer(self, conv(32, (6, 6), "conv2"), x)  # [B, 18, 18, 32]
        # nn.max_pool, not pooling.max_pool: that is 4 % slower here for 4x4 windows.
        x = _tap(self, "maxpool", nn.max_pool(x, (4, 4), strides=(4, 4)))  # [B, 4, 4, 32]
        x = _tap(self, "flatten", x.reshape(x.shape[0], -1))  # [B, 512]
        x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        x = _layer(self, _dense(100, "glorot", "dense1"), x)  # [B, 100]
        x = _tap(self, "relu3", nn.relu(x))  # the study's "activation 3"
        x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        return _layer(self, _dense(10, "glorot", "dense2"), x)  # [B, 10]


class DeepCNN(nn.Module):
    """Our larger deep CNN, built from the study's title line alone ("3 conv + 1 pooling +
    3 conv + 1 pooling + 2 FC") before its slides' shapes were read; the networks the
    slides print are ``study_deep`` and ``study_deep_dropout`` (:data:`CNNS`).

    3 × (Conv 32 3×3 valid -> ReLU) -> MaxPool 2 -> 3 × (Conv 64 3×3 valid -> ReLU)
    -> MaxPool 2 -> Flatten (2·2·64 = 256) -> Dense 256 -> ReLU -> Dense 10, with
    dropout at ``dropout`` before each dense layer (0 = off). Filter sizes and widths
    are ours: 179,530 parameters, against 122,294 and 74,102 in the slides' networks.
    """

    dropout: float = 0.0
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False, image_index=None) -> jax.Array:
        conv = _conv_layer(self.conv)
        if not self.is_mutable_collection("intermediates"):
            # The second max-pool drops conv6's last row and column (5 -> 2), and tracing
            # back through the convs and the first pool, the image's last 2 rows and
            # columns reach nothing else: cropping them changes no output and skips 20 %
            # of the multiply-adds. Recording the layers keeps every pixel.
            x = x[:, :26, :26]
        n = 0
        for block, features in enumerate((32, 64), start=1):
            for _ in range(3):
                n += 1
                x = _layer(self, conv(features, (3, 3), f"conv{n}"), x)
                x = _tap(self, f"relu{n}", nn.relu(x))
            # = nn.max_pool(x, (2, 2), strides=(2, 2)), faster to train on CPU (pooling.py).
            x = _tap(self, f"maxpool{block}", max_pool(x, 2))
        x = _tap(self, "flatten", x.reshape(x.shape[0], -1))  # [B, 256]: 28 -> 22 -> 11 -> 5 -> 2
        x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        x = _layer(self, _dense(256, "glorot", "dense1"), x)
        x = _tap(self, "relu_dense1", nn.relu(x))
        x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        return _layer(self, _dense(10, "glorot", "dense2"), x)


# A layer plan, input to output: ("conv", features, kernel) is a valid, stride-1 convolution
# with a kernel × kernel window followed by the activation; ("pool", window) is a max-pool
# with stride = window that drops the rows and columns a window does not fill (Keras's and
# Theano's ``ignore_border``).
Plan = tuple[tuple, ...]

# The study's deep CNNs, rebuilt from the shapes their slides print (docs/cnn.md, "The
# study's deep CNNs, rebuilt"): every kernel size below is the one that turns a printed
# shape into the next printed shape.
STUDY_DEEP: Plan = (  # 28 -> 27 -> 16 -> 9 -> pool 4 -> 3: 3·3·32 = 288
    ("conv", 32, 2),
    ("conv", 16, 12),
    ("conv", 16, 8),
    ("pool", 2),
    ("conv", 32, 2),
)
STUDY_DEEP_DROPOUT: Plan = (  # 28 -> 27 -> 26 -> pool 13 -> 11 -> 10 -> 9 -> pool 4: 512
    ("conv", 32, 2),
    ("conv", 32, 2),
    ("pool", 2),
    ("conv", 32, 3),
    ("conv", 32, 2),
    ("conv", 32, 2),
    ("pool", 2),
)
# Nielsen's chapter 6 (network3.py): ConvPoolLayer = 5×5 conv, max-pool 2×2, activation.
NIELSEN_CONV: Plan = (("conv", 20, 5), ("pool", 2))  # 28 -> 24 -> 12: 12·12·20 = 2880
NIELSEN_CONV2: Plan = (*NIELSEN_CONV, ("conv", 40, 5), ("pool", 2))  # -> 8 -> 4: 640


def _nielsen_conv_init(features: int, kernel: int, pool: int):
    """network3.py's ConvPoolLayer init: weights N(0, 1/n_out) with n_out = features ·
    kernel² / pool² (the units one input reaches after pooling), biases N(0, 1)."""
    n_out = features * kernel * kernel / (pool * pool)
    return jax.nn.initializers.normal(n_out**-0.5), jax.nn.initializers.normal(1.0)


class PlanCNN(nn.Module):
    """A CNN from a layer plan: [conv -> activation | max-pool]* -> flatten ->
    [Dense -> activation -> dropout]* -> Dense 10.

    ``weight_init="glorot"`` is Keras's (Glorot uniform, zero biases); ``"nielsen"`` is
    network3.py's: conv and hidden weights N(0, 1/n_out), biases N(0, 1), and the softmax
    layer at zero. network3.py pools before its activation; for a monotone activation
    (sigmoid, ReLU) max-pool and activation commute, so the outputs are the same.
    Dropout (``dropout > 0``) follows each hidden Dense layer's activation, where the
    study's slides print ``dropout_1`` (their Dense -> Dropout -> ReLU is the same map).
    """

    plan: Plan
    hidden: tuple[int, ...] = (100,)
    activation: str = "relu"
    weight_init: str = "glorot"  # "glorot" (Keras 1) or "nielsen" (network3.py)
    dropout: float = 0.0
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False, image_index=None) -> jax.Array:
        act, name = ACTIVATIONS[self.activation], self.activation
        glorot, zeros = jax.nn.initializers.glorot_uniform(), jax.nn.initializers.zeros
        n_conv = n_pool = 0
        for i, step in enumerate(self.plan):
            if step[0] == "conv":
                _, features, kernel = step
                n_conv += 1
                inits = (glorot, zeros)
                if self.weight_init == "nielsen":
                    after = self.plan[i + 1] if i + 1 < len(self.plan) else ("conv",)
                    pool = after[1] if after[0] == "pool" else 1
                    inits = _nielsen_conv_init(features, kernel, pool)
                layer = nn.Conv(
                    features,
                    (kernel, kernel),
                    padding="VALID",
                    kernel_init=inits[0],
                    bias_init=inits[1],
                    conv_general_dilated=conv_fn(self.conv),
                    name=f"conv{n_conv}",
                )
                x = _tap(self, f"{name}{n_conv}", act(_layer(self, layer, x)))
            else:
                window = step[1]
                n_pool += 1
                h, w = (x.shape[1] // window) * window, (x.shape[2] // window) * window
                # = nn.max_pool(x, (window, window), strides=(window, window)) (pooling.py)
                x = _tap(self, f"maxpool{n_pool}", max_pool(x[:, :h, :w], window))
        x = _tap(self, "flatten", x.reshape(x.shape[0], -1))
        for j, width in enumerate(self.hidden, start=1):
            if self.weight_init == "nielsen":
                inits = (jax.nn.initializers.normal(width**-0.5), jax.nn.initializers.normal(1.0))
            else:
                inits = (glorot, zeros)
            layer = nn.Dense(width, kernel_init=inits[0], bias_init=inits[1], name=f"dense{j}")
            x = _tap(self, f"{name}_dense{j}", act(_layer(self, layer, x)))
            x = Dropout(self.dropout)(x, deterministic=not train, image_index=image_index)
        out_init = (zeros, zeros) if self.weight_init == "nielsen" else (glorot, zeros)
        last = f"dense{len(self.hidden) + 1}"
        layer = nn.Dense(10, kernel_init=out_init[0], bias_init=out_init[1], name=last)
        return _layer(self, layer, x)


# Every CNN by its --arch name: f(dropout=, conv=) -> module.
CNNS = {
    "seed": SeedCNN,
    "deep": DeepCNN,
    "study_deep": partial(PlanCNN, STUDY_DEEP),
    "study_deep_dropout": partial(PlanCNN, STUDY_DEEP_DROPOUT),
    "nielsen_conv": partial(PlanCNN, NIELSEN_CONV, activation="sigmoid", weight_init="nielsen"),
    "nielsen_conv2": partial(PlanCNN, NIELSEN_CONV2, activation="sigmoid", weight_init="nielsen"),
    "nielsen_conv2_relu": partial(PlanCNN, NIELSEN_CONV2, weight_init="nielsen"),
}


def param_count(params) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(params))
