"""The study's networks as pure Flax Linen modules: ``init`` and ``apply``, no training logic.

Every model takes images [B, 28, 28, 1] (float32 in [0, 1]) and returns logits [B, 10]
(pre-activation z of the last layer); the loss applies softmax or sigmoid. Dropout
draws from the ``"dropout"`` rng and is off when ``train=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from cnn_jax.nn.conv import conv_fn
from cnn_jax.nn.pooling import max_pool

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "identity": lambda x: x,
    "softplus": nn.softplus,
    "leaky_relu": nn.leaky_relu,
    "elu": nn.elu,
}

_normal = jax.nn.initializers.normal
# (kernel_init, bias_init) per scheme.
INITS = {
    # Nielsen's network2 default: w ~ N(0, 1/n_in), b ~ N(0, 1).
    "nielsen": (jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal"), _normal(1.0)),
    # Nielsen's "large" init (network.py): w, b ~ N(0, 1).
    "large": (_normal(1.0), _normal(1.0)),
    # Keras's default: Glorot uniform kernels, zero biases.
    "glorot": (jax.nn.initializers.glorot_uniform(), jax.nn.initializers.zeros),
    # He et al. 2015: N(0, 2/n_in), zero biases.
    "he": (jax.nn.initializers.he_normal(), jax.nn.initializers.zeros),
}


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
    the parameter path (``conv1/kernel``) and the recorded output (``conv1/output``) share
    one name. Recorded inside the layer's scope: Flax reserves a child's name in its
    parent for every collection, so the parent cannot sow under it."""
    y = layer(x)
    layer.sow("intermediates", "output", y)
    return y


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
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        x = _tap(self, "flatten", x.reshape(x.shape[0], -1))  # [B, 784]
        for i, width in enumerate(self.widths[:-1], start=1):
            x = _layer(self, _dense(width, self.weight_init, f"dense{i}"), x)
            x = _tap(self, f"{self.activation}{i}", act(x))
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
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
    conv: str = "auto"  # "xla", "im2col", "rows", or "auto" (rows on CPU): same numbers

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
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
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = _layer(self, _dense(100, "glorot", "dense1"), x)  # [B, 100]
        x = _tap(self, "relu3", nn.relu(x))  # the study's "activation 3"
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return _layer(self, _dense(10, "glorot", "dense2"), x)  # [B, 10]


class DeepCNN(nn.Module):
    """The study's deeper CNN: 3 conv + 1 pooling + 3 conv + 1 pooling + 2 FC.

    3 × (Conv 32 3×3 valid -> ReLU) -> MaxPool 2 -> 3 × (Conv 64 3×3 valid -> ReLU)
    -> MaxPool 2 -> Flatten (2·2·64 = 256) -> Dense 256 -> ReLU -> Dense 10, with
    dropout at ``dropout`` before each dense layer (0 = off). The study gives only
    the layer counts; the filter sizes and widths here are ours.
    """

    dropout: float = 0.0
    conv: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, *, train: bool = False) -> jax.Array:
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
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = _layer(self, _dense(256, "glorot", "dense1"), x)
        x = _tap(self, "relu_dense1", nn.relu(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return _layer(self, _dense(10, "glorot", "dense2"), x)


def param_count(params) -> int:
    return sum(int(p.size) for p in jax.tree.leaves(params))
