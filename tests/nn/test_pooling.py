import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.pooling import max_pool


@pytest.mark.parametrize(
    "shape, window",
    [((3, 22, 22, 5), 2), ((2, 16, 16, 4), 4), ((2, 5, 5, 3), 2), ((2, 7, 9, 3), 2)],
)
def test_max_pool_matches_flax_values_and_gradient_with_ties(shape, window):
    # Integers 0-2: most windows hold a tied maximum, where the gradient must go to the
    # first one as select_and_scatter sends it; odd sizes drop a row and column as there.
    x = jax.random.randint(jax.random.key(0), shape, 0, 3).astype(jnp.float32)

    def flax_pool(v):
        return nn.max_pool(v, (window, window), strides=(window, window))

    y, vjp = jax.vjp(lambda v: max_pool(v, window), x)
    y_ref, vjp_ref = jax.vjp(flax_pool, x)
    np.testing.assert_array_equal(y, y_ref)
    g = jax.random.normal(jax.random.key(1), y.shape)
    np.testing.assert_array_equal(vjp(g)[0], vjp_ref(g)[0])
    assert np.count_nonzero(vjp(g)[0]) == y.size  # one pixel per window, not every tie


def test_max_pool_gradient_under_jit():
    x = jax.random.normal(jax.random.key(2), (2, 8, 8, 3))
    grad = jax.jit(jax.grad(lambda v: jnp.sum(max_pool(v, 2) ** 2)))
    expected = jax.grad(lambda v: jnp.sum(nn.max_pool(v, (2, 2), strides=(2, 2)) ** 2))(x)
    np.testing.assert_allclose(grad(x), expected, rtol=1e-6)
