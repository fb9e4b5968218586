"""Per-layer gradients against jax.grad and the study's closed form; sweeps against loops;
the mean-field theory against its own equations. (Nielsen ch. 5 on real MNIST:
test_nielsen_ch5.py.)"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec, draw_params
from cnn_jax.nn.models import ChainNet
from cnn_jax.nn.tree import layer_names
from cnn_jax.studies.vanishing import mean_field
from cnn_jax.training import gradients as G

KEY = jax.random.key(0)
# Few shapes, shared across tests: on CPU, compiling the parameter draws costs more
# than running them.
SMALL = MLPSpec((784, 16, 16, 10))
SEEDS = 4


def small_params(seed=0):
    """SMALL's parameters for key ``seed`` of the shared split (one compiled draw)."""
    params = draw_params(SMALL.model(), jax.random.split(KEY, SEEDS))
    return jax.tree.map(lambda p: p[seed], params)


def toy_batch(n=16, key=KEY):
    """Random images in [0, 1] [n, 28, 28, 1] and one-hot targets [n, 10]."""
    k1, k2 = jax.random.split(key)
    images = jax.random.uniform(k1, (n, 28, 28, 1))
    targets = jax.nn.one_hot(jax.random.randint(k2, (n,), 0, 10), 10)
    return images, targets


def leaf(tree, name):
    layer, param = name.split("/")
    return tree[layer][param]


# ----------------------------------------------------------------------------- chain


@pytest.mark.parametrize("depth", [1, 3, 6])
@pytest.mark.parametrize("cost", ["quadratic", "sigmoid_ce"])
def test_chain_closed_form_equals_autodiff(depth, cost):
    model = ChainNet(depth=depth)
    kx, ky, kp = jax.random.split(jax.random.key(depth), 3)
    x = jax.random.normal(kx, (8, 1))
    y = jax.random.bernoulli(ky, 0.5, (8, 1)).astype(jnp.float32)
    params = model.init(kp, x)["params"]
    grads = jax.grad(G.batch_cost(model, losses.LOSSES[cost]))(params, x, y)
    dw, db = G.chain_closed_form_grads(params, x, y, cost)
    names = layer_names(params)
    np.testing.assert_allclose(dw, [grads[n]["kernel"][0, 0] for n in names], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(db, [grads[n]["bias"][0] for n in names], rtol=1e-5, atol=1e-8)
    assert np.any(np.abs(dw) > 1e-6)  # not trivially zero


def test_cross_entropy_removes_the_output_sigma_prime():
    # Same chain, same data: the quadratic cost's gradients are the cross-entropy's times
    # σ'(z_L) per example; with one example, exactly that factor.
    model = ChainNet(depth=3)
    x, y = jnp.array([[0.7]]), jnp.array([[1.0]])
    params = model.init(jax.random.key(1), x)["params"]
    dw_q, _ = G.chain_closed_form_grads(params, x, y, "quadratic")
    dw_ce, _ = G.chain_closed_form_grads(params, x, y, "sigmoid_ce")
    a = jax.nn.sigmoid(model.apply({"params": params}, x))[0, 0]
    np.testing.assert_allclose(dw_q, dw_ce * a * (1 - a), rtol=1e-5)


def test_chain_closed_form_rejects_unknown_cost():
    params = ChainNet(depth=2).init(KEY, jnp.ones((1, 1)))["params"]
    with pytest.raises(ValueError, match="cost"):
        G.chain_closed_form_grads(params, jnp.ones((1, 1)), jnp.ones((1, 1)), "hinge")


def test_sigmoid_prime_at_most_a_quarter():
    z = jnp.linspace(-40.0, 40.0, 100_001)
    slope = jax.vmap(jax.grad(jax.nn.sigmoid))(z)
    assert float(jnp.max(slope)) <= 0.25
    np.testing.assert_allclose(float(slope[50_000]), 0.25)  # z = 0


# ----------------------------------------------------------------------------- per layer


def test_layer_grads_equal_jax_grad_leaves():
    model = SMALL.model()
    images, targets = toy_batch(4)
    params = small_params()
    named = G.layer_grads(model, params, images, targets, losses.sigmoid_cross_entropy)
    assert list(named) == [f"dense{i}/{p}" for i in range(1, 4) for p in ("kernel", "bias")]
    reference = jax.grad(
        lambda p: losses.sigmoid_cross_entropy(model.apply({"params": p}, images), targets)
    )(params)
    for name, g in named.items():
        assert g.shape == leaf(params, name).shape
        np.testing.assert_array_equal(g, leaf(reference, name))


@jax.jit
def small_stats(params, images, targets):
    return G.grad_stats(SMALL.model(), params, images, targets, SMALL.cost_fn, per_example=True)


@jax.jit
def small_grads(params, images, targets):
    return jax.grad(G.batch_cost(SMALL.model(), SMALL.cost_fn))(params, images, targets)


def test_grad_stats_norms_and_per_example():
    images, targets = toy_batch(16)
    params = small_params()
    stats = small_stats(params, images, targets)
    grads = small_grads(params, images, targets)
    for i, layer in enumerate(layer_names(params)):
        np.testing.assert_allclose(
            stats.delta_norm[i], jnp.linalg.norm(grads[layer]["bias"]), rtol=1e-5
        )
        np.testing.assert_allclose(
            stats.kernel_norm[i], jnp.linalg.norm(grads[layer]["kernel"]), rtol=1e-5
        )
    # Norm then mean >= mean then norm (triangle inequality), and strictly here.
    assert np.all(np.asarray(stats.per_example_delta_norm) > np.asarray(stats.delta_norm))
    # The batch gradient is the mean of per-example gradients (the cost is a batch mean).
    single = [small_grads(params, images[i : i + 1], targets[i : i + 1]) for i in range(16)]
    for i, layer in enumerate(layer_names(params)):
        biases = np.stack([g[layer]["bias"] for g in single])  # [16, n]
        np.testing.assert_allclose(biases.mean(0), grads[layer]["bias"], rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(
            stats.per_example_delta_norm[i], np.linalg.norm(biases, axis=1).mean(), rtol=1e-5
        )


def test_jitted_equals_unjitted():
    images, targets = toy_batch(16)
    params = small_params(1)
    eager = G.grad_stats(SMALL.model(), params, images, targets, SMALL.cost_fn, per_example=True)
    jitted = small_stats(params, images, targets)
    for a, b in zip(eager, jitted, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_vmapped_sweep_equals_loop_of_single_calls():
    net, model = SMALL, SMALL.model()
    images, targets = toy_batch(16)
    keys = jax.random.split(KEY, SEEDS)
    # batch_size 3 of 4 seeds: lax.map's remainder path too.
    sweep = G.init_sweep(model, images, targets, net.cost_fn, keys, batch_size=3)
    assert sweep.delta_norm.shape == (SEEDS, 3)
    model_init = jax.jit(lambda key: model.init(key, images[:1])["params"])
    for s, key in enumerate(keys):
        # An independent draw: the model's own init, not the sweep's compiled draws.
        single = small_stats(model_init(key), images, targets)
        np.testing.assert_allclose(sweep.delta_norm[s], single.delta_norm, rtol=1e-5)
        np.testing.assert_allclose(sweep.kernel_norm[s], single.kernel_norm, rtol=1e-5)
    # The same keys give the same numbers; different keys different ones.
    again = G.init_sweep(model, images, targets, net.cost_fn, keys)
    np.testing.assert_allclose(again.delta_norm, sweep.delta_norm, rtol=1e-5)
    assert len(np.unique(np.asarray(sweep.delta_norm[:, 0]))) == SEEDS


def test_sigmoid_vanishes_toward_the_input_and_relu_he_does_not():
    images, targets = toy_batch(16)
    keys = jax.random.split(KEY, SEEDS)
    median = {}
    for net in (SMALL, MLPSpec(SMALL.sizes, "relu", "he")):
        stats = G.init_sweep(net.model(), images, targets, net.cost_fn, keys)
        median[net.activation] = np.median(np.asarray(stats.delta_norm), axis=0)  # [3]
    assert np.all(np.diff(median["sigmoid"]) > 0), median  # falls toward the input
    # Two layers down: sigmoid ~1/4.9² (mean field), ReLU with He init ~1.
    assert median["sigmoid"][0] / median["sigmoid"][-1] < 0.1, median
    assert median["relu"][0] / median["relu"][-1] > 0.4, median


def test_summaries():
    values = np.arange(1, 101, dtype=float)[:, None] * np.array([[1.0, 4.0]])  # [100, 2]
    q = G.seed_quantiles(values)
    assert set(q) == {"p01", "p05", "median", "p95", "p99"}
    np.testing.assert_allclose(q["median"], [50.5, 202.0])
    np.testing.assert_allclose(G.median_shrink(values), [4.0])


# ----------------------------------------------------------------------------- training


def test_training_records_init_applies_nielsens_update_and_vmaps():
    net, model = SMALL, SMALL.model()
    images, targets = toy_batch(16)
    test = (images[:8], jnp.argmax(targets[:8], axis=-1))
    lr, lam, n = 0.5, 5.0, 16
    coeff = losses.nielsen_coeff(lam, n)
    kwargs = dict(epochs=4, lr=lr, l2_coeff=coeff, eval_every=2)
    params = small_params(2)
    final, history = G.train_speed_of_learning(
        model, params, (images, targets), test, net.cost_fn, **kwargs
    )
    assert history.delta_norm.shape == (5, 3)
    assert history.test_accuracy.shape == (3,)
    init = small_stats(params, images, targets)
    np.testing.assert_allclose(history.delta_norm[0], init.delta_norm, rtol=1e-5)
    # Four steps of w <- (1 - lr·λ/n)·w - lr·∂C/∂w, b <- b - lr·∂C/∂b, by hand.
    p = params
    for _ in range(4):
        g = small_grads(p, images, targets)
        p = {
            k: {
                "kernel": (1 - lr * lam / n) * p[k]["kernel"] - lr * g[k]["kernel"],
                "bias": p[k]["bias"] - lr * g[k]["bias"],
            }
            for k in p
        }
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(p), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert history.cost[-1] < history.cost[0]
    # The vmapped sweep over seeds gives seed 2 the same history.
    sweep = G.train_sweep(net, jax.random.split(KEY, SEEDS), (images, targets), test, **kwargs)
    assert sweep.delta_norm.shape == (SEEDS, 5, 3)
    for field in history._fields:
        np.testing.assert_allclose(getattr(sweep, field)[2], getattr(history, field), rtol=1e-4)
    with pytest.raises(ValueError, match="eval_every"):
        G.train_speed_of_learning(
            model,
            params,
            (images, targets),
            test,
            net.cost_fn,
            epochs=5,
            lr=lr,
            l2_coeff=coeff,
            eval_every=2,
        )


# ----------------------------------------------------------------------------- mean field


@pytest.mark.parametrize("sigma_w2,sigma_b2", [(2.0, 0.0), (1.0, 0.5), (1.5, 0.3), (0.5, 1.0)])
def test_relu_chi1_is_half_sigma_w2(sigma_w2, sigma_b2):
    np.testing.assert_allclose(mean_field.chi1("relu", sigma_w2, sigma_b2), sigma_w2 / 2, rtol=1e-6)


@pytest.mark.parametrize(
    "activation,sigma_w2,sigma_b2", [("sigmoid", 1.0, 1.0), ("tanh", 1.5, 0.05), ("relu", 1.5, 0.3)]
)
def test_fixed_point_satisfies_its_equation(activation, sigma_w2, sigma_b2):
    q = mean_field.fixed_point_q(activation, sigma_w2, sigma_b2)
    np.testing.assert_allclose(
        mean_field.length_map(q, activation, sigma_w2, sigma_b2), q, rtol=1e-7
    )
    if activation == "relu":  # q = σ_w²q/2 + σ_b²
        np.testing.assert_allclose(q, sigma_b2 / (1 - sigma_w2 / 2), rtol=1e-6)


def test_sigmoid_nielsen_init_shrinks_about_4_9_per_layer():
    shrink = mean_field.predicted_shrink("sigmoid", 1.0, 1.0)
    assert 4.8 < shrink < 5.0
    np.testing.assert_allclose(mean_field.predicted_shrink("relu", 2.0, 0.0), 1.0, rtol=1e-6)


def test_gaussian_expectation_moments():
    np.testing.assert_allclose(mean_field.gaussian_expectation(lambda z: z**2), 1.0, rtol=1e-6)
    np.testing.assert_allclose(mean_field.gaussian_expectation(lambda z: z**4), 3.0, rtol=1e-5)


def test_relu_diverges_above_critical():
    with pytest.raises(ValueError, match="diverges"):
        mean_field.fixed_point_q("relu", 3.0, 0.1)


def test_chi_c():
    # c = 1 is χ1; ReLU has the closed form σ_w²(π − arccos c)/2π.
    np.testing.assert_allclose(
        mean_field.chi_c(1.0, 1.3, "sigmoid", 1.0),
        mean_field.chi1("sigmoid", 1.0, 1.0, q=1.3),
        rtol=1e-4,
    )
    for c in (0.2, 0.6, 0.9):
        np.testing.assert_allclose(
            mean_field.chi_c(c, 1.0, "relu", 2.0), (math.pi - math.acos(c)) / math.pi, atol=0.02
        )


def test_input_moments():
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    q, c = mean_field.input_moments(x)
    np.testing.assert_allclose(q, (1 + 2 + 4) / 3 / 2)
    np.testing.assert_allclose(c, (1 / math.sqrt(2) + 0 + 1 / math.sqrt(2)) / 3)
