"""Activation functions and weight initialisations by name, and when a sigmoid is saturated.

Every model and study picks these by name (``MLPSpec(activation="sigmoid", init="nielsen")``,
``--activation``, ``--init``), so a name means the same function everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "identity": lambda x: x,
    "softplus": nn.softplus,
    "leaky_relu": nn.leaky_relu,
    "elu": nn.elu,
    # Glorot & Bengio 2010: x / (1 + |x|), a tanh whose tails approach ±1 polynomially.
    "softsign": jax.nn.soft_sign,
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
    # Glorot & Bengio 2010's "standard" init: U[−1/√n_in, 1/√n_in] (variance 1/(3·n_in)),
    # zero biases; variance_scaling's uniform limit is √(3·scale/n_in).
    "standard": (
        jax.nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
        jax.nn.initializers.zeros,
    ),
}
# Glorot & Bengio 2010's "normalized" init, U[±√6/√(n_in + n_out)] with zero biases, is
# Keras's glorot_uniform: the same entry under the paper's name.
INITS["normalized"] = INITS["glorot"]

# A sigmoid is saturated where σ(z) < 0.01 or σ(z) > 0.99, i.e. |z| > ln 99 ≈ 4.6, where
# σ'(z) = σ(1 − σ) < 0.0099 (under 4 % of its peak 0.25). A tanh is saturated where
# |tanh(z)| > 0.99, i.e. |z| > atanh(0.99) ≈ 2.65, where tanh'(z) < 0.02.
SATURATION = 0.01
SIGMOID_SATURATION_Z = math.log((1 - SATURATION) / SATURATION)  # 4.595
TANH_SATURATION_Z = math.atanh(1 - SATURATION)  # 2.647
# A softsign is saturated where its slope 1/(1 + |z|)² falls below tanh's at its threshold
# (1 − 0.99² ≈ 0.02): |z| > 1/√0.0199 − 1 ≈ 6.09, |softsign(z)| > 0.86. Its polynomial tails
# make |softsign(z)| > 0.99 need |z| > 99, which a trained network rarely reaches.
SOFTSIGN_SATURATION_Z = 1.0 / math.sqrt(1.0 - (1.0 - SATURATION) ** 2) - 1.0
