"""The unstable gradient: each layer nearer the input gets |w·σ'(z)| times the next one's
gradient, by autodiff and by the study's product formula; and the width of the inputs where
that factor reaches 1, against a dense grid."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.studies.vanishing import unstable
from cnn_jax.training.gradients import chain_closed_form_grads


@pytest.mark.parametrize("w, ratio", [(100.0, 25.0), (8.0, 2.0), (1.0, 0.25)])
def test_each_layer_gets_w_over_4_times_the_next(w, ratio):
    params, x = unstable.exploding_chain(w, depth=4)
    g = np.asarray(unstable.bias_gradients(params, x, depth=4))
    np.testing.assert_allclose(g[:-1] / g[1:], ratio, rtol=1e-5)
    np.testing.assert_allclose(g[-1], 0.25, rtol=1e-6)  # ∂σ(z_L)/∂b_L = σ'(0)
    # The same gradients from the product formula (cross-entropy on target 0 has
    # ∂C/∂z_L = a_L, a constant factor 2 = 0.5/0.25 over C = a_L).
    _, db = chain_closed_form_grads(params, x, jnp.zeros_like(x), "sigmoid_ce")
    np.testing.assert_allclose(np.abs(np.asarray(db)) * 0.25 / 0.5, g, rtol=1e-5)


@pytest.mark.parametrize("w", [4.5, 6.9, 20.0, 100.0])
def test_unstable_width_matches_a_grid(w):
    a = np.linspace(-1.0, 1.0, 2_000_001)
    b = 0.0
    s = 1 / (1 + np.exp(-(w * a + b)))
    inside = np.abs(w * s * (1 - s)) >= 1
    measured = inside.sum() * (a[1] - a[0])
    assert measured == pytest.approx(unstable.unstable_width(w), abs=2e-5)


def test_unstable_width_is_largest_near_6_9_and_zero_below_4():
    ws = np.linspace(4.01, 30.0, 2600)
    widths = [unstable.unstable_width(w) for w in ws]
    assert ws[int(np.argmax(widths))] == pytest.approx(6.9, abs=0.05)
    assert max(widths) == pytest.approx(0.45, abs=0.005)
    assert unstable.unstable_width(3.9) == 0.0 and math.isfinite(unstable.unstable_width(4.0))
    assert math.isfinite(unstable.unstable_width(1e6))
