"""The study's Keras-style MLP: Keras's init and one SGD step on the MSE."""

import jax
import jax.numpy as jnp
import numpy as np

from cnn_jax.nn.models import param_count
from cnn_jax.studies.costs import keras_mlp as K


def test_keras_mlp_init_and_parameter_count():
    params = K.KerasMLP(20).init(jax.random.key(0), jnp.zeros((1, 1)))["params"]
    assert param_count(params) == 20 + 20 + 20 + 1  # Dense(20) on 1 input, Dense(1)
    for layer in params.values():
        assert float(jnp.max(jnp.abs(layer["kernel"]))) <= 0.05
        assert float(jnp.max(jnp.abs(layer["kernel"]))) > 0.01  # drawn, not zero
        np.testing.assert_array_equal(layer["bias"], 0.0)


def test_keras_fit_one_step_is_sgd_on_the_mse():
    # The script's shapes with --points 8 --batch-size 8 --hidden 4 --epochs 1: one compile.
    key = jax.random.key(3)
    train = K.make_data(jax.random.key(4), 8)
    grid = jnp.linspace(-1.0, 1.0, 201)[:, None]
    test = (grid, K.target_function(grid))
    params, history = K.fit(key, train, test, hidden=4, epochs=1, batch_size=8, lr=0.1)
    model = K.KerasMLP(4)
    start = jax.jit(model.init)(jax.random.split(key)[0], train[0][:1])["params"]

    def loss(p):
        return jnp.mean((model.apply({"params": p}, train[0]) - train[1]) ** 2)

    want = jax.tree.map(lambda w, g: w - 0.1 * g, start, jax.jit(jax.grad(loss))(start))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), params, want)
    np.testing.assert_allclose(history.train_loss[0], loss(want), rtol=1e-5)
