"""How much of the class each hidden layer makes readable, before and after fine-tuning.

The probes of :mod:`cnn_jax.inside.probes` on one network's hidden layers: a linear probe
(L2-regularized softmax regression on the frozen layer) and the nearest class mean, fitted on
training images and scored on held-out images. Run on a row's starting point and on its
fine-tuned network, they say whether pretraining already made the class linearly readable
(the features) or left it to fine-tuning (the optimization).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.inside import layers, probes
from cnn_jax.nn.mlp import MLPSpec


def hidden_features(net: MLPSpec, params, images: jax.Array) -> dict[str, jax.Array]:
    """{"sigmoid1": [N, width], ...}: every hidden layer's output (after its activation),
    input side first, for images [N, 28, 28, 1]; params of one network."""
    out = layers.layer_outputs(net.model(), params, images)
    return {name: value for name, value in out.items() if name.startswith(net.activation)}


def probe_layers(net: MLPSpec, params, fit: tuple, score: tuple, *, steps: int = 200) -> dict:
    """{layer: {"probe_accuracy", "nearest_mean_accuracy"}} for each hidden layer: fitted on
    ``fit`` and scored on ``score``, both (images [N, 28, 28, 1], int labels [N])."""
    fit_x, score_x = hidden_features(net, params, fit[0]), hidden_features(net, params, score[0])
    fit_y, score_y = jnp.asarray(fit[1], jnp.int32), jnp.asarray(score[1], jnp.int32)
    rows = {}
    for name, x in fit_x.items():
        x, xs = probes.flatten(x), probes.flatten(score_x[name])
        probe = probes.fit_linear_probe(x, fit_y, xs, score_y, steps=steps)
        rows[name] = {
            "probe_accuracy": float(probe["test_accuracy"]),
            "nearest_mean_accuracy": float(probes.nearest_mean_accuracy(x, fit_y, xs, score_y)),
        }
    return rows


def labels(one_hot: jax.Array) -> np.ndarray:
    """One-hot targets [N, 10] -> int labels [N]."""
    return np.asarray(jnp.argmax(one_hot, -1))
