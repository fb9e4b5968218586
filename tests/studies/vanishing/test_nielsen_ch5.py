"""Nielsen ch. 5 at init on real MNIST (skips without CNN_JAX_DATA_DIR): about 30 s, most
of it compiling the three networks' parameter draws."""

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax import data as data_lib
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.studies.vanishing import mean_field
from cnn_jax.training import gradients as G


def test_nielsen_ch5_published_values_inside_the_seed_band(mnist):
    """Each published ‖δˡ‖ (one draw) lies in the 1–99 % band over 1,000 seeds, and the
    median per-layer shrink is within 20 % of the mean field's 1/√χ1."""
    ds = data_lib.limit(mnist, train=1000)
    images = jnp.asarray(data_lib.scale(ds.train_images))
    targets = jnp.asarray(data_lib.one_hot(ds.train_labels))
    keys = jax.random.split(jax.random.key(0), 1000)
    predicted = mean_field.predicted_shrink("sigmoid", 1.0, 1.0)
    for name, published in G.NIELSEN_CH5_INIT.items():
        net = MLPSpec(tuple(int(s) for s in name.split("-")))
        stats = G.init_sweep(net.model(), images, targets, net.cost_fn, keys)
        hidden = np.asarray(stats.delta_norm)[:, :-1]
        q = G.seed_quantiles(hidden)
        for layer, value in enumerate(published):
            assert q["p01"][layer] <= value <= q["p99"][layer], (name, layer, value, q)
        for shrink in G.median_shrink(hidden):
            assert abs(shrink / predicted - 1) < 0.2, (name, shrink, predicted)
