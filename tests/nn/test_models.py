import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.models import (
    ACTIVATIONS,
    INITS,
    MLP,
    ChainNet,
    DeepCNN,
    Dropout,
    SeedCNN,
    param_count,
)

X = jnp.linspace(0.0, 1.0, 4 * 28 * 28, dtype=jnp.float32).reshape(4, 28, 28, 1)


def init(model, x=X):
    return model.init(jax.random.key(0), x)["params"]


def test_seed_cnn_matches_the_study():
    model = SeedCNN()
    params = init(model)
    # conv1 6·6·1·32+32, conv2 6·6·32·32+32, dense 512·100+100, dense 100·10+10
    assert param_count(params) == 1_184 + 36_896 + 51_300 + 1_010 == 90_390
    assert params["conv2"]["kernel"].shape == (6, 6, 32, 32)
    assert params["dense1"]["kernel"].shape == (512, 100)
    assert model.apply({"params": params}, X).shape == (4, 10)


def test_deep_cnn_shapes():
    model = DeepCNN(dropout=0.5)
    params = init(model)
    assert len([k for k in params if k.startswith("conv")]) == 6
    assert params["dense1"]["kernel"].shape == (256, 256)
    # convs 320 + 2·9,248 + 18,496 + 2·36,928; dense 256·256+256, 256·10+10
    assert param_count(params) == 320 + 18_496 + 18_496 + 73_856 + 65_792 + 2_570 == 179_530
    assert model.apply({"params": params}, X).shape == (4, 10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_any_depth_and_activation(activation):
    model = MLP(widths=(30, 20, 10), activation=activation)
    params = init(model)
    assert param_count(params) == 784 * 30 + 30 + 30 * 20 + 20 + 20 * 10 + 10
    assert model.apply({"params": params}, X).shape == (4, 10)


def test_mlp_inits_have_the_stated_scale():
    widths = (400, 400, 10)
    std = {
        name: float(jnp.std(init(MLP(widths=widths, weight_init=name))["dense2"]["kernel"]))
        for name in INITS
    }
    np.testing.assert_allclose(std["nielsen"], 1 / np.sqrt(400), rtol=0.03)
    np.testing.assert_allclose(std["large"], 1.0, rtol=0.03)
    np.testing.assert_allclose(std["glorot"], np.sqrt(2 / 800), rtol=0.03)
    np.testing.assert_allclose(std["he"], np.sqrt(2 / 400), rtol=0.03)
    biases = init(MLP(widths=widths, weight_init="nielsen"))["dense2"]["bias"]
    np.testing.assert_allclose(float(jnp.std(biases)), 1.0, rtol=0.15)


def test_chain_net_is_the_study_formula():
    depth = 4
    model = ChainNet(depth=depth)
    x = jnp.array([[0.3], [-1.2]], jnp.float32)
    params = model.init(jax.random.key(3), x)["params"]
    a = x
    for i in range(depth):
        z = a * params[f"dense{i + 1}"]["kernel"][0, 0] + params[f"dense{i + 1}"]["bias"][0]
        a = jax.nn.sigmoid(z)
    np.testing.assert_allclose(model.apply({"params": params}, x), z, rtol=1e-6)


@pytest.mark.parametrize(
    "model", [SeedCNN(dropout=0.5), DeepCNN(dropout=0.5), MLP(widths=(50, 10), dropout=0.5)]
)
def test_dropout(model):
    params = init(model)
    apply = jax.jit(model.apply, static_argnames="train")
    evals = [apply({"params": params}, X, train=False) for _ in range(2)]
    np.testing.assert_array_equal(evals[0], evals[1])
    k1, k2 = jax.random.split(jax.random.key(1))
    t1 = apply({"params": params}, X, train=True, rngs={"dropout": k1})
    t1_again = apply({"params": params}, X, train=True, rngs={"dropout": k1})
    t2 = apply({"params": params}, X, train=True, rngs={"dropout": k2})
    np.testing.assert_array_equal(t1, t1_again)
    assert not np.allclose(t1, t2)
    assert not np.allclose(t1, evals[0])


def test_dropout_draws_like_flax_or_one_mask_per_image():
    """Without image_index, Dropout is nn.Dropout to the bit (the MLP studies' numbers stay);
    with it, each image's mask depends only on its index, not on the rest of the batch."""
    x = jax.random.uniform(jax.random.key(0), (6, 50)) + 0.1
    rngs = {"dropout": jax.random.key(1)}
    ours = Dropout(0.4).apply({}, x, deterministic=False, rngs=rngs)
    flax = nn.Dropout(0.4).apply({}, x, deterministic=False, rngs=rngs)
    np.testing.assert_array_equal(ours, flax)
    index = jnp.arange(10, 16)
    whole = Dropout(0.4).apply({}, x, deterministic=False, image_index=index, rngs=rngs)
    halves = [
        Dropout(0.4).apply({}, x[s], deterministic=False, image_index=index[s], rngs=rngs)
        for s in (slice(0, 3), slice(3, 6))
    ]
    np.testing.assert_array_equal(whole, np.concatenate(halves))
    assert not np.array_equal(whole[0] != 0, whole[1] != 0)  # images draw different masks
    assert np.mean(np.asarray(whole) == 0) == pytest.approx(0.4, abs=0.1)
