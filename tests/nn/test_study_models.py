"""The study's deep CNNs as their slides print them, and Nielsen's chapter 6 networks:
every layer's output shape, the parameter counts, and network3.py's initialization."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.models import CNNS, param_count, recorded
from cnn_jax.training.config import ARCHS

X = jnp.linspace(0.0, 1.0, 2 * 28 * 28, dtype=jnp.float32).reshape(2, 28, 28, 1)

# Layer by layer, (height, width, channels) or (width,): the slides' shapes (read or
# inferred, docs/cnn.md) and network3.py's (n_in of each layer in conv.py).
SHAPES = {
    "study_deep": {  # "Resultados das demais redes testadas - 1"
        "conv1": (27, 27, 32),
        "conv2": (16, 16, 16),
        "conv3": (9, 9, 16),
        "maxpool1": (4, 4, 16),
        "conv4": (3, 3, 32),
        "flatten": (288,),
        "dense1": (100,),
        "dense2": (10,),
    },
    "study_deep_dropout": {  # "... - 2"
        "conv1": (27, 27, 32),
        "conv2": (26, 26, 32),
        "maxpool1": (13, 13, 32),
        "conv3": (11, 11, 32),
        "conv4": (10, 10, 32),
        "conv5": (9, 9, 32),
        "maxpool2": (4, 4, 32),
        "flatten": (512,),
        "dense1": (100,),
        "dense2": (10,),
    },
    "nielsen_conv": {"maxpool1": (12, 12, 20), "flatten": (20 * 12 * 12,), "dense1": (100,)},
    "nielsen_conv2": {"maxpool1": (12, 12, 20), "maxpool2": (4, 4, 40), "flatten": (640,)},
    "nielsen_conv2_relu": {"maxpool2": (4, 4, 40), "relu_dense1": (100,), "dense2": (10,)},
}
PARAMS = {
    # conv 2·2·1·32+32, 12·12·32·16+16, 8·8·16·16+16, 2·2·16·32+32; dense 288·100+100, 1,010
    "study_deep": 160 + 73_744 + 16_400 + 2_080 + 28_900 + 1_010,
    # conv 160, 2·2·32·32+32, 3·3·32·32+32, 2 × 4,128; dense 512·100+100, 1,010
    "study_deep_dropout": 160 + 4_128 + 9_248 + 4_128 + 4_128 + 51_300 + 1_010,
    "nielsen_conv": 5 * 5 * 20 + 20 + 2880 * 100 + 100 + 1_010,
    "nielsen_conv2": 520 + 5 * 5 * 20 * 40 + 40 + 640 * 100 + 100 + 1_010,
    "nielsen_conv2_relu": 520 + 20_040 + 64_100 + 1_010,
}


def layer_shapes(name):
    model = CNNS[name](dropout=0.5)
    variables = model.init(jax.random.key(0), X)
    _, state = model.apply(variables, X, mutable=["intermediates"])
    shapes = {k: tuple(v.shape[1:]) for k, v in recorded(state["intermediates"]).items()}
    return shapes, variables["params"]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_each_layer_has_the_printed_shape(name):
    shapes, params = layer_shapes(name)
    for layer, want in SHAPES[name].items():
        assert shapes[layer] == want, (layer, shapes[layer], want)
    assert param_count(params) == PARAMS[name]


def test_the_pinned_counts():
    assert PARAMS == {
        "study_deep": 122_294,
        "study_deep_dropout": 74_102,
        "nielsen_conv": 289_630,
        "nielsen_conv2": 85_670,
        "nielsen_conv2_relu": 85_670,
    }


def test_the_layers_run_in_the_slides_order():
    shapes, _ = layer_shapes("study_deep")
    assert list(shapes) == [
        "conv1", "relu1", "conv2", "relu2", "conv3", "relu3", "maxpool1", "conv4", "relu4",
        "flatten", "dense1", "relu_dense1", "dense2",
    ]  # fmt: skip


def test_every_cnn_is_an_arch_flag():
    assert set(CNNS) | {"mlp"} == set(ARCHS)


def test_odd_pool_drops_the_last_row_and_column_as_keras_does():
    """9 × 9 -> 4 × 4: the same as nn.max_pool with a 2 × 2 VALID window."""
    model = CNNS["study_deep"]()
    params = model.init(jax.random.key(1), X)
    _, state = model.apply(params, X, mutable=["intermediates"])
    layers = recorded(state["intermediates"])
    want = nn.max_pool(layers["relu3"], (2, 2), strides=(2, 2), padding="VALID")
    np.testing.assert_array_equal(layers["maxpool1"], want)


def test_nielsen_init_is_network3s():
    """Conv weights N(0, 1/n_out), n_out = filters·5²/2² (125 and 250); hidden weights
    N(0, 1/100); biases N(0, 1); the softmax layer starts at zero."""
    _, params = layer_shapes("nielsen_conv2")
    np.testing.assert_allclose(jnp.std(params["conv1"]["kernel"]), 125**-0.5, rtol=0.1)
    np.testing.assert_allclose(jnp.std(params["conv2"]["kernel"]), 250**-0.5, rtol=0.05)
    np.testing.assert_allclose(jnp.std(params["dense1"]["kernel"]), 0.1, rtol=0.05)
    np.testing.assert_allclose(jnp.std(params["dense1"]["bias"]), 1.0, rtol=0.25)
    assert not jnp.any(params["dense2"]["kernel"]) and not jnp.any(params["dense2"]["bias"])
    _, keras = layer_shapes("study_deep")
    assert not jnp.any(keras["conv1"]["bias"])  # Keras: zero biases, Glorot uniform weights
    limit = np.sqrt(6 / (12 * 12 * 32 + 12 * 12 * 16))
    assert float(jnp.abs(keras["conv2"]["kernel"]).max()) <= limit
