"""One sigmoid neuron: the study's gradient formulas against autodiff, and the slowdown."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn import losses
from cnn_jax.studies.costs import neuron
from cnn_jax.studies.costs import study as costs

POINTS = [(0.6, 0.9, 1.0, 0.0), (2.0, 2.0, 1.0, 0.0), (-1.5, 0.3, 0.7, 1.0), (4.0, 3.0, 1.0, 0.0)]


@pytest.mark.parametrize("cost", neuron.COSTS)
@pytest.mark.parametrize("w,b,x,y", POINTS)
def test_neuron_grads_match_autodiff(cost, w, b, x, y):
    c = losses.cost_id(cost)
    auto = jax.grad(neuron.neuron_cost, argnums=(0, 1))(w, b, x, y, c)
    formula = neuron.neuron_grads(w, b, x, y, c)
    np.testing.assert_allclose(formula, auto, rtol=1e-5, atol=1e-7)


def test_neuron_cost_values():
    a = jax.nn.sigmoid(0.6 + 0.9)
    np.testing.assert_allclose(neuron.neuron_cost(0.6, 0.9, 1.0, 0.0, 0), 0.5 * a**2, rtol=1e-6)
    np.testing.assert_allclose(neuron.neuron_cost(0.6, 0.9, 1.0, 0.0, 1), -np.log(1 - a), rtol=1e-6)


def test_grad_w_against_output_is_the_study_formula():
    w, b = 2.0, 2.0
    a = float(jax.nn.sigmoid(w + b))
    for cost in neuron.COSTS:
        gw, _ = neuron.neuron_grads(w, b, 1.0, 0.0, losses.cost_id(cost))
        np.testing.assert_allclose(neuron.grad_w_against_output(a, cost), gw, rtol=1e-5)
    # The slowdown: saturated at a = 0.98 the quadratic gradient is ~57× smaller.
    ratio = neuron.grad_w_against_output(a, "sigmoid_ce") / neuron.grad_w_against_output(
        a, "quadratic"
    )
    assert ratio == pytest.approx(1 / (a * (1 - a)), rel=1e-5)
    with pytest.raises(ValueError):
        neuron.grad_w_against_output(a, "hinge")


def test_descend_matches_a_python_loop():
    h = neuron.descend_runs(
        jnp.array([2.0, 0.6]),
        jnp.array([2.0, 0.9]),
        jnp.array([0.15, 0.005]),
        jnp.array([0, 1]),
        epochs=5,
    )
    assert h.cost.shape == (2, 6)
    for r, (w, b, lr, c) in enumerate([(2.0, 2.0, 0.15, 0), (0.6, 0.9, 0.005, 1)]):
        for e in range(6):
            np.testing.assert_allclose(h.w[r, e], w, rtol=1e-5)
            np.testing.assert_allclose(
                h.cost[r, e], neuron.neuron_cost(w, b, 1.0, 0.0, c), rtol=1e-5
            )
            gw, gb = neuron.neuron_grads(w, b, 1.0, 0.0, c)
            w, b = w - lr * float(gw), b - lr * float(gb)


def test_neuron_study_shows_the_slowdown():
    runs, _ = costs.neuron_study(300)
    quad = runs["quadratic, start (2.0, 2.0), η 0.15"]
    quad_mild = runs["quadratic, start (0.6, 0.9), η 0.15"]
    assert quad["initial_output"] == pytest.approx(0.982, abs=1e-3)
    assert quad_mild["initial_output"] == pytest.approx(0.818, abs=1e-3)
    # The saturated start barely moves for tens of epochs, then learns.
    assert quad["cost_drop_first_10_epochs"] < 0.1 * quad_mild["cost_drop_first_10_epochs"]
    assert quad["final_output"] < 0.5
    # Cross-entropy learns fastest where it is most wrong: no plateau.
    ce = runs["sigmoid_ce, start (2.0, 2.0), η 0.005"]
    ce_mild = runs["sigmoid_ce, start (0.6, 0.9), η 0.005"]
    assert ce["cost_drop_first_10_epochs"] > ce_mild["cost_drop_first_10_epochs"]
