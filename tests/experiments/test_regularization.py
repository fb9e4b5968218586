"""L2 on kernels only, dropout's statistics, the saturation summary, and the script."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.nn.models import MLP, Dropout
from cnn_jax.training import sgd


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("regularization")


def _params():
    model = MLP(widths=(5, 3), weight_init="large")
    return model.init(jax.random.key(0), jnp.zeros((1, 2, 2, 1)))["params"]


def test_l2_penalty_skips_biases_and_matches_its_formula():
    params = _params()
    want = sum(float(jnp.sum(params[k]["kernel"] ** 2)) for k in params)
    np.testing.assert_allclose(losses.l2_penalty(params, 0.3), 0.3 * want, rtol=1e-6)
    # Its gradient is 2·coeff·w on kernels and exactly zero on biases.
    g = jax.grad(losses.l2_penalty)(params, 0.3)
    for k in params:
        np.testing.assert_allclose(g[k]["kernel"], 0.6 * params[k]["kernel"], rtol=1e-6)
        np.testing.assert_array_equal(g[k]["bias"], 0.0)
    # Nielsen's λ/2n: the decay per step 1 − η·2·coeff = 1 − ηλ/n.
    assert 2 * losses.nielsen_coeff(5.0, 50_000) == pytest.approx(5.0 / 50_000)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_zeroes_a_fraction_and_keeps_the_expectation(rate):
    model = MLP(widths=(400, 10), activation="sigmoid", dropout=rate)
    x = jax.random.uniform(jax.random.key(1), (64, 2, 2, 1))  # 4 inputs: a cheap init
    params = model.init(jax.random.key(2), x)["params"]
    # One training call: the sown activation before dropout and Dropout's output.
    _, state = model.apply(
        {"params": params},
        x,
        train=True,
        rngs={"dropout": jax.random.key(3)},
        capture_intermediates=lambda module, _: isinstance(module, Dropout),
        mutable=["intermediates"],
    )
    clean = np.asarray(state["intermediates"]["sigmoid1"][0])  # [64, 400] before dropout
    dropped = np.asarray(state["intermediates"]["Dropout_0"]["__call__"][0])
    kept = dropped != 0.0
    assert np.mean(~kept) == pytest.approx(rate, abs=0.02)  # over 25,600 units
    # Survivors are scaled by 1/(1 − r), so the expected activation is kept.
    np.testing.assert_allclose(dropped[kept], clean[kept] / (1 - rate), rtol=1e-5)
    assert dropped.mean() == pytest.approx(clean.mean(), rel=0.03)
    # Off at evaluation: the same network as without dropout.
    no_dropout = MLP(widths=(400, 10), activation="sigmoid")
    np.testing.assert_allclose(
        model.apply({"params": params}, x), no_dropout.apply({"params": params}, x), rtol=1e-6
    )


def test_saturation_stats_formulas():
    z = np.array([0.0, 0.0, 5.0, -30.0, 1000.0])
    s = sgd.saturation_stats(z)
    assert s["abs_z_median"] == 5.0
    assert s["fraction_saturated"] == pytest.approx(0.6)  # σ'(5) = 0.0066 < 0.01
    slope = [0.25, 0.25, 0.00664806, 0.0, 0.0]
    assert s["slope_mean"] == pytest.approx(np.mean(slope), rel=1e-5)
    assert sum(s["abs_z_hist"]) == pytest.approx(1.0)
    assert s["abs_z_hist"][-1] == pytest.approx(0.4)  # |z| ≥ 20 lands in the last bin
    assert sum(s["slope_hist"]) == pytest.approx(1.0)


def test_layer_mechanism_per_layer():
    net = MLPSpec((4, 5, 3))
    params = _params()
    x = jax.random.uniform(jax.random.key(1), (7, 2, 2, 1))
    z = sgd.preactivations(net.model(), params, x)
    assert list(z) == ["dense1", "dense2"]
    np.testing.assert_allclose(z["dense2"], net.model().apply({"params": params}, x), rtol=1e-6)
    m = sgd.layer_mechanism(net, params, x)
    assert m["dense1"]["kernel_norm"] == pytest.approx(
        float(jnp.linalg.norm(params["dense1"]["kernel"])), rel=1e-6
    )


def test_script_short_run_writes_json_and_checkpoints(tmp_path, mnist, script):
    out = tmp_path / "reg"
    args = ["--data-dir", mnist.source.removeprefix("idx:"), "--out", str(out), "--no-progress"]
    args += ["--overfit-images", "100", "--overfit-epochs", "2", "--test-images", "200"]
    args += ["--hidden", "8"]
    # --dropout-hidden = --hidden and 2 seeds: dropout 0 reuses the overfit sweep's compile.
    args += ["--skip-full", "--block", "1", "--dropout-epochs", "1", "--dropout-hidden", "8"]
    assert script.main(args) == 0
    first = json.loads((out / "results.json").read_text())
    overfit = first["studies"]["overfit"]
    assert set(overfit["configs"]) == {"lambda=0", "lambda=0.1"}
    c = overfit["configs"]["lambda=0.1"]
    assert c["l2_coeff"] == pytest.approx(0.1 / 200)
    assert len(c["curves"]["test_accuracy"]) == 2
    assert 0.0 < c["final_test_accuracy"] <= c["best_test_accuracy"] <= 1.0
    assert set(c["mechanism"]) == {"dense1", "dense2"}
    # Beside Nielsen's run of λ 0.1, over our 2 epochs, with what differs from his.
    assert c["nielsen"]["epochs"] == 2 and c["nielsen"]["file"] == "fig/regularized.json"
    assert c["nielsen"]["differs"] == ["images 100 (his 1000)", "hidden units 8 (his 30)"]
    assert c["nielsen"]["final"]["ours"] == [c["final_test_accuracy"]]
    assert (out / "overfit_nielsen.png").is_file()
    dropout = first["studies"]["dropout"]["configs"]
    assert set(dropout) == {"dropout=0", "dropout=0.5"}
    assert len(dropout["dropout=0.5"]["curves"]["train_accuracy"]) == 1
    assert len(dropout["dropout=0.5"]["per_seed"]) == 2
    for png in ("overfit_curves.png", "overfit_mechanism.png", "dropout_curves.png"):
        assert (out / png).stat().st_size < 300_000
    # A checkpoint per study to resume from (resuming itself: test_cost_functions.py).
    _, ckpt_metrics, epoch, _ = sgd.load_checkpoint(out / "checkpoints" / "overfit")
    assert epoch == 2
    np.testing.assert_allclose(ckpt_metrics["test_cost"][1], c["curves"]["test_cost"])
    # --seeds 2: the first seed is the run above (up to float32 rounding); the second differs.
    args[args.index(str(out))] = str(tmp_path / "seeds")
    assert script.main([*args, "--seeds", "2", "--skip-dropout"]) == 0
    two = json.loads((tmp_path / "seeds" / "results.json").read_text())
    for label, one_seed in overfit["configs"].items():
        spread = two["studies"]["overfit"]["configs"][label]
        for name, curve in one_seed["curves"].items():  # vmap width changes rounding only
            np.testing.assert_allclose(spread["curves"][name], curve, rtol=1e-5, err_msg=name)
        finals = spread["seeds"]["final_test_accuracy"]
        assert len(finals) == 2 and finals[0] == pytest.approx(one_seed["final_test_accuracy"])
        assert finals[1] != finals[0]


def test_script_bad_images_is_one_line_exit_2(mnist, script, capsys):
    with pytest.raises(SystemExit) as e:
        script.main(["--data-dir", mnist.source.removeprefix("idx:"), "--full-images", "70000"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
