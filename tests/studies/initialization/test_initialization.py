"""Glorot & Bengio 2010's inits and the initialization study: the draws' variances, the
forward pass and Jacobians against independent formulas, the paper's effects at small size,
and the script end to end."""

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.activations import ACTIVATIONS, INITS
from cnn_jax.studies.initialization import config, network_stats
from cnn_jax.studies.initialization import curves as curves_lib
from cnn_jax.training import sgd


@pytest.mark.parametrize(
    "init,variance,limit",
    [
        ("standard", lambda n_in, n_out: 1 / (3 * n_in), lambda n_in, n_out: 1 / math.sqrt(n_in)),
        (
            "normalized",
            lambda n_in, n_out: 2 / (n_in + n_out),
            lambda n_in, n_out: math.sqrt(6 / (n_in + n_out)),
        ),
    ],
)
def test_inits_draw_the_stated_uniform_with_zero_biases(init, variance, limit):
    n_in, n_out = 400, 300
    kernel_init, bias_init = INITS[init]
    w = np.asarray(kernel_init(jax.random.key(0), (n_in, n_out), jnp.float32), np.float64)
    # The sample variance of N uniforms has relative standard error √(0.8/N) ≈ 0.26 %.
    assert w.var() == pytest.approx(variance(n_in, n_out), rel=0.015)
    assert abs(w.mean()) < 5 * math.sqrt(variance(n_in, n_out) / w.size)
    assert np.abs(w).max() <= limit(n_in, n_out) and np.abs(w).max() > 0.99 * limit(n_in, n_out)
    assert not np.any(np.asarray(bias_init(jax.random.key(1), (n_out,), jnp.float32)))


def test_normalized_is_keras_glorot_uniform():
    assert INITS["normalized"] is INITS["glorot"]


def test_softsign_is_x_over_one_plus_abs_x():
    x = jnp.linspace(-50.0, 50.0, 101)
    np.testing.assert_allclose(ACTIVATIONS["softsign"](x), x / (1 + jnp.abs(x)), rtol=1e-6)


@pytest.fixture(scope="module")
def batch(mnist):
    return sgd.to_device(mnist.test_images[:32], mnist.test_labels[:32])


def _params(net, seed=0):
    return jax.tree.map(lambda x: x[0], net.init_params(jax.random.key(seed)[None]))


def test_forward_and_backprop_agree_with_the_model_and_the_softmax_formula(batch):
    net = config.network("softsign N", 2, 24)
    params = _params(net)
    images, targets = batch
    logits, pre, post = network_stats.forward(net, params, images)
    np.testing.assert_allclose(
        logits, net.model().apply({"params": params}, images), rtol=1e-5, atol=1e-6
    )
    grads, _, _ = jax.jit(network_stats.backprop_grads, static_argnums=0)(
        net, params, images, targets
    )
    # Per-example ∂C_x/∂s of softmax + NLL at the output: softmax(s) − y.
    np.testing.assert_allclose(grads[-1], jax.nn.softmax(logits) - targets, atol=1e-6)
    # One layer down by hand: ∂C/∂s^2 = f'(s^2) ⊙ (∂C/∂s^3 · W^3ᵀ).
    slope = 1 / (1 + jnp.abs(pre[1])) ** 2
    by_hand = slope * (grads[2] @ params["dense3"]["kernel"].T)
    np.testing.assert_allclose(grads[1], by_hand, rtol=1e-4, atol=1e-7)
    assert len(post) == 2


def test_layer_jacobians_are_diag_slope_times_kernel_transposed(batch):
    net = config.network("tanh", 2, 12)
    params = _params(net)
    images = batch[0][:3]
    jacobians = jax.jit(network_stats.layer_jacobians, static_argnums=0)(net, params, images)
    _, pre, post = network_stats.forward(net, params, images)
    for i, name in enumerate(("dense1", "dense2")):
        slope = 1 - jnp.tanh(pre[i]) ** 2  # [B, n_i]
        expected = slope[:, :, None] * params[name]["kernel"].T[None]  # [B, n_i, n_{i-1}]
        np.testing.assert_allclose(jacobians[i], expected, rtol=1e-5, atol=1e-7)
    assert post[1].shape == (3, 12)


@pytest.fixture(scope="module")
def tanh_at_init(batch):
    """tanh, 3 hidden layers of 256, 4 seeds, at both inits: {init: {stat: [S, H]}}."""
    keys = jax.random.split(jax.random.key(7), 4)
    images, targets = batch[0][:8], batch[1][:8]
    return {
        label: network_stats.init_stats(
            config.network(label, 3, 256), keys, images, targets, images[:2]
        )
        for label in ("tanh", "tanh N")
    }


@pytest.mark.parametrize("label,paper", [("tanh", 0.5), ("tanh N", 0.8)])
def test_jacobian_mean_singular_value_near_the_papers(tanh_at_init, label, paper):
    # Layers 2 and 3 map 256 → 256; layer 1's 784 → 256 map is not square.
    values = tanh_at_init[label]["jacobian_singular_value"][:, 1:]
    assert np.all(np.abs(values - paper) < 0.1), values


def test_backprop_gradients_shrink_toward_the_input_with_standard_init_only(tanh_at_init):
    standard = np.median(tanh_at_init["tanh"]["backprop_var"], axis=0)  # [H]
    normalized = np.median(tanh_at_init["tanh N"]["backprop_var"], axis=0)
    # Each tanh layer near 0 scales Var(∂C/∂s) by about n·Var(W) = 1/3 (standard) or 1.
    assert np.all(np.diff(standard) > 0) and standard[0] / standard[-1] < 0.3, standard
    ratio = (
        tanh_at_init["tanh N"]["backprop_var"][:, 0] / tanh_at_init["tanh N"]["backprop_var"][:, -1]
    )
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio
    assert normalized[0] / normalized[-1] > 3 * standard[0] / standard[-1]


def test_sigmoid_top_hidden_layer_falls_below_the_lower_ones(mnist):
    """Figure 2's effect, on 2,000 images, 200 updates of mini-batch 10."""
    study = config.Study(train_images=2000, curve_width=64, curve_hidden=4, record_every=50)
    train = sgd.to_device(mnist.train_images[:2000], mnist.train_labels[:2000])
    probe = sgd.to_device(mnist.test_images[:300], mnist.test_labels[:300])
    net = config.network("sigmoid", 4, 64)
    records = curves_lib.training_curves(
        net, jax.random.key(1), jax.random.key(2), 0.1, train, probe, study=study
    )
    mean = records["mean"]  # [R, 4]
    assert mean.shape == (5, 4)
    assert np.all(np.abs(mean[0] - 0.5) < 0.05), mean[0]  # zero biases, small s: σ ≈ 1/2
    assert mean[-1, 3] < mean[-1, :3].min() - 0.02, mean[-1]
    assert mean[-1, 3] < mean[0, 3] - 0.02, mean[:, 3]


# ----------------------------------------------------------------------------- the script


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("initialization")


# The at-init and curve sizes are the tests' above, so the script reuses their compiled calls.
TINY = [
    "--width", "8", "--hidden", "2", "--epochs", "1", "--lrs", "0.05,0.1",
    "--train-images", "2000", "--networks", "tanh N", "--init-width", "256",
    "--init-hidden", "3", "--init-seeds", "4", "--init-images", "8",
    "--jacobian-examples", "2", "--curve-width", "64", "--curve-hidden", "4",
    "--record-every", "50", "--probe-images", "300", "--curve-networks", "sigmoid",
    "--curve-lr", "0.1", "--no-progress",
]  # fmt: skip


def test_tiny_run_writes_results_without_nan(script, mnist, tmp_path, capsys):
    out = tmp_path / "out"
    data_dir = os.environ["CNN_JAX_DATA_DIR"]
    assert script.main([*TINY, "--data-dir", data_dir, "--out", str(out)]) == 0
    text = (out / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    results = json.loads(text)
    row = results["table"]["tanh N"]
    assert row["chosen_lr"] in (0.05, 0.1) and 0 <= row["test_error"] <= 100
    # Three seeds (the default) at each rate; the rate is picked on their mean.
    assert len(row["test_errors"]) == 3 and row["seeds"] == 3
    assert row["test_error"] == pytest.approx(np.mean(row["test_errors"]))
    assert row["test_error_sd"] == pytest.approx(np.std(row["test_errors"], ddof=1))
    final = np.asarray(row["validation_error_by_epoch"])[:, :, -1].mean(1)  # [L]
    assert row["chosen_lr"] == (0.05, 0.1)[int(np.argmin(final))]
    assert len(results["curves"]["sigmoid"]["updates"]) == 1 + 200 // 50
    for name in ("jacobian_singular_values", "gradients_at_init", "saturation_curves"):
        assert (out / f"{name}.png").stat().st_size > 0
    assert "test error" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--networks", "tanh,swish"], "unknown network 'swish'"),
        (["--lrs", "0.1,0"], "must be a finite number > 0"),
        (["--train-images", "100", "--record-every", "7"], "must divide the 10 updates"),
        (["--curve-networks", "gelu"], "unknown network 'gelu'"),
        (["--jacobian-examples", "400"], "--jacobian-examples 400 is more than"),
        (["--data-dir", "/no/such/folder"], "does not exist"),
    ],
)
def test_bad_flags_are_one_line_exit_2_and_write_nothing(script, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        script.main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_help_names_the_flags(script, help_text):
    text = help_text(script.main)
    for flag in ("--width", "--init-width", "--jacobian-examples", "--curve-lr", "--no-table"):
        assert flag in text


def test_every_study_flag_helps_in_a_sentence():
    import dataclasses

    fields = dataclasses.fields(config.Study)
    assert all(f.metadata for f in fields)
    for f in fields:
        text = f.metadata["help"]
        assert text[0].isupper() and text.endswith("."), text
