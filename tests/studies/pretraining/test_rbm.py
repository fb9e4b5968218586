"""The Bernoulli RBM against exact enumeration on a model small enough to sum every state."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.studies.pretraining import rbm

V, H = 6, 4


@pytest.fixture(scope="module")
def model():
    """A small RBM with weights large enough that p(v) is far from uniform."""
    k1, k2, k3 = jax.random.split(jax.random.key(3), 3)
    return rbm.RBMParams(
        jax.random.normal(k1, (V, H)),
        0.5 * jax.random.normal(k2, (V,)),
        0.5 * jax.random.normal(k3, (H,)),
    )


@pytest.fixture(scope="module")
def batch():
    return jax.random.bernoulli(jax.random.key(4), 0.4, (5, V)).astype(jnp.float32)


def test_free_energy_is_minus_log_sum_over_hidden_states(model, batch):
    hs = rbm.all_states(H)  # [16, H]
    energies = rbm.energy(model, batch[:, None, :], hs[None])  # [B, 16]
    expected = -jax.nn.logsumexp(-energies, axis=1)
    np.testing.assert_allclose(rbm.free_energy(model, batch), expected, rtol=1e-5, atol=1e-5)


def test_energy_matches_its_definition(model):
    v, h = rbm.all_states(V)[13], rbm.all_states(H)[9]
    by_hand = -(v @ model.visible_bias) - h @ model.hidden_bias - v @ model.weights @ h
    np.testing.assert_allclose(rbm.energy(model, v, h), by_hand, rtol=1e-6)


def test_cd_infinity_expectation_is_the_exact_likelihood_gradient(model, batch):
    """Data statistics minus the exact model statistics = ∂ mean log p(v)/∂θ by autodiff."""
    exact = jax.grad(rbm.exact_log_likelihood)(model, batch)
    data = rbm.statistics(batch, rbm.hidden_probs(model, batch))
    cd_infinity = jax.tree.map(jnp.subtract, data, rbm.model_statistics(model))
    for got, want in zip(cd_infinity, exact, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        assert float(jnp.abs(want).max()) > 1e-2  # a gradient that could disagree


@pytest.mark.parametrize("sample_visible", [False, True])
def test_cd1_samples_average_to_the_exact_cd1_expectation(model, batch, sample_visible):
    draws = 4000
    keys = jax.random.split(jax.random.key(5), draws)
    estimates = jax.jit(
        jax.vmap(lambda k: rbm.cd_gradient(model, batch, k, k=1, sample_visible=sample_visible))
    )(keys)
    expected = rbm.exact_cd1_expectation(model, batch, sample_visible=sample_visible)
    for got, want in zip(estimates, expected, strict=True):
        mean = got.mean(0)
        stderr = got.std(0) / np.sqrt(draws)
        # Within 5 standard errors (plus float slack) of the exact expectation.
        assert np.all(np.abs(mean - want) <= 5 * stderr + 1e-4), (mean, want)
    # CD-1 is biased: its expectation is not the likelihood gradient.
    exact = jax.grad(rbm.exact_log_likelihood)(model, batch)
    assert float(jnp.abs(expected.weights - exact.weights).max()) > 1e-2


def test_training_on_the_tiny_model_raises_the_exact_likelihood():
    # Two complementary patterns with 10 % of the bits flipped: correlations that
    # independent pixels (the initial model) cannot express.
    k1, k2 = jax.random.split(jax.random.key(6))
    pattern = jnp.asarray([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    which = jax.random.bernoulli(k1, 0.5, (200, 1))
    flips = jax.random.bernoulli(k2, 0.1, (200, V))
    data = jnp.abs(jnp.where(which, pattern, 1 - pattern) - flips).astype(jnp.float32)
    params = rbm.init_rbm(jax.random.key(7), V, H, data)
    before = rbm.exact_log_likelihood(params, data)
    training = rbm.RBMTraining(epochs=10, batch_size=10, lr=0.1)
    trained, errors = rbm.train_rbm(params, data, jax.random.key(8), training)
    assert errors.shape == (11,)
    assert rbm.exact_log_likelihood(trained, data) > before
