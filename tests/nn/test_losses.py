import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn import losses

Z = jnp.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], jnp.float32)
Y = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], jnp.float32)


def test_quadratic_and_sigmoid_ce_match_their_formulas():
    a = np.asarray(jax.nn.sigmoid(Z), np.float64)
    y = np.asarray(Y, np.float64)
    np.testing.assert_allclose(
        losses.quadratic_cost(Z, Y), np.mean(0.5 * ((a - y) ** 2).sum(1)), rtol=1e-6
    )
    ce = -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(1).mean()
    np.testing.assert_allclose(losses.sigmoid_cross_entropy(Z, Y), ce, rtol=1e-6)


def test_softmax_ce():
    z = np.asarray(Z, np.float64)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(Z, Y), -(logp * Y).sum(1).mean(), rtol=1e-6
    )


def test_output_gradients():
    # ∂C/∂z at the output: quadratic keeps σ'(z), cross-entropy does not (the study's point).
    a = jax.nn.sigmoid(Z)
    g_quad = jax.grad(losses.quadratic_cost)(Z, Y)
    g_ce = jax.grad(losses.sigmoid_cross_entropy)(Z, Y)
    np.testing.assert_allclose(g_quad, (a - Y) * a * (1 - a) / 2, rtol=1e-5)
    np.testing.assert_allclose(g_ce, (a - Y) / 2, rtol=1e-5)


def test_l2_skips_biases():
    params = {
        "dense1": {"kernel": jnp.full((2, 3), 2.0), "bias": jnp.full((3,), 100.0)},
        "conv1": {"kernel": jnp.ones((1, 1, 1, 2)), "bias": jnp.ones((2,))},
    }
    np.testing.assert_allclose(losses.l2_penalty(params, 0.1), 0.1 * (6 * 4.0 + 2 * 1.0))
    grads = jax.grad(losses.l2_penalty)(params, 0.1)
    assert float(jnp.abs(grads["dense1"]["bias"]).max()) == 0.0
    np.testing.assert_allclose(grads["dense1"]["kernel"], 0.2 * 2.0)
    assert losses.nielsen_coeff(5.0, 50_000) == 5e-5
