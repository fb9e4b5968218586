"""The single-neuron slowdown, the mini-batch SGD trainer, and the cost_functions script."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn import losses
from cnn_jax.nn.models import param_count
from cnn_jax.studies import keras_mlp as K
from cnn_jax.studies import neuron as costs
from cnn_jax.studies import sgd


@pytest.fixture(scope="module")
def cost_functions(load_script):
    return load_script("cost_functions")


@pytest.fixture(scope="module")
def keras_script(load_script):
    return load_script("keras_mlp")


EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


POINTS = [(0.6, 0.9, 1.0, 0.0), (2.0, 2.0, 1.0, 0.0), (-1.5, 0.3, 0.7, 1.0), (4.0, 3.0, 1.0, 0.0)]


@pytest.mark.parametrize("cost", costs.COST_NAMES)
@pytest.mark.parametrize("w,b,x,y", POINTS)
def test_neuron_grads_match_autodiff(cost, w, b, x, y):
    c = costs.cost_id(cost)
    auto = jax.grad(costs.neuron_cost, argnums=(0, 1))(w, b, x, y, c)
    formula = costs.neuron_grads(w, b, x, y, c)
    np.testing.assert_allclose(formula, auto, rtol=1e-5, atol=1e-7)


def test_neuron_cost_values():
    a = jax.nn.sigmoid(0.6 + 0.9)
    np.testing.assert_allclose(costs.neuron_cost(0.6, 0.9, 1.0, 0.0, 0), 0.5 * a**2, rtol=1e-6)
    np.testing.assert_allclose(costs.neuron_cost(0.6, 0.9, 1.0, 0.0, 1), -np.log(1 - a), rtol=1e-6)


def test_grad_w_against_output_is_the_study_formula():
    w, b = 2.0, 2.0
    a = float(jax.nn.sigmoid(w + b))
    for cost in costs.COST_NAMES:
        gw, _ = costs.neuron_grads(w, b, 1.0, 0.0, costs.cost_id(cost))
        np.testing.assert_allclose(costs.grad_w_against_output(a, cost), gw, rtol=1e-5)
    # The slowdown: saturated at a = 0.98 the quadratic gradient is ~57× smaller.
    ratio = costs.grad_w_against_output(a, "cross_entropy") / costs.grad_w_against_output(
        a, "quadratic"
    )
    assert ratio == pytest.approx(1 / (a * (1 - a)), rel=1e-5)
    with pytest.raises(ValueError):
        costs.grad_w_against_output(a, "hinge")


def test_descend_matches_a_python_loop():
    h = costs.descend_runs(
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
                h.cost[r, e], costs.neuron_cost(w, b, 1.0, 0.0, c), rtol=1e-5
            )
            gw, gb = costs.neuron_grads(w, b, 1.0, 0.0, c)
            w, b = w - lr * float(gw), b - lr * float(gb)


def test_neuron_study_shows_the_slowdown(cost_functions):
    runs, _ = cost_functions.neuron_study(300)
    quad = runs["quadratic, start (2.0, 2.0), η 0.15"]
    quad_mild = runs["quadratic, start (0.6, 0.9), η 0.15"]
    assert quad["initial_output"] == pytest.approx(0.982, abs=1e-3)
    assert quad_mild["initial_output"] == pytest.approx(0.818, abs=1e-3)
    # The saturated start barely moves for tens of epochs, then learns.
    assert quad["cost_drop_first_10_epochs"] < 0.1 * quad_mild["cost_drop_first_10_epochs"]
    assert quad["final_output"] < 0.5
    # Cross-entropy learns fastest where it is most wrong: no plateau.
    ce = runs["cross_entropy, start (2.0, 2.0), η 0.005"]
    ce_mild = runs["cross_entropy, start (0.6, 0.9), η 0.005"]
    assert ce["cost_drop_first_10_epochs"] > ce_mild["cost_drop_first_10_epochs"]


# ----------------------------------------------------------------------------- trainer


def _toy(n=20, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 2, 1)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    y = np.eye(k, dtype=np.float32)[labels]
    return jnp.asarray(x), jnp.asarray(y)


NET = sgd.Net((4, 5, 3), "sigmoid", "large")
HYPER = sgd.hypers([0.5, 3.0], [0.0, 0.01], ["cross_entropy", "quadratic"])
KEYS = jax.random.split(jax.random.key(0), 2)
# block 1: every run_sweep call below shares one compilation per sweep width.
SWEEP = dict(batch_size=4, block=1)


def test_epoch_is_nielsens_mini_batch_sgd():
    """Row 1 (quadratic, L2) after one epoch equals 5 steps of Nielsen's update by hand:
    w ← (1 − ηλ/n)·w − η·∇C_batch on kernels, b ← b − η·∇C_batch, on his shuffle."""
    train, test = _toy(), _toy(10, seed=1)
    params, _ = sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=1, **SWEEP)
    p = jax.tree.map(lambda x: x[1], sgd.init_params(NET, KEYS, (2, 2, 1)))
    lr, decay = 3.0, 2 * 0.01  # λ/n = 2·coeff
    model = NET.model()
    shuffle_key, _ = jax.random.split(KEYS[1])
    order = np.asarray(jax.random.permutation(jax.random.fold_in(shuffle_key, 0), 20))

    def cost(q, idx):
        return losses.quadratic_cost(model.apply({"params": q}, train[0][idx]), train[1][idx])

    grad = jax.jit(jax.grad(cost))
    for idx in order.reshape(5, 4):
        g = grad(p, idx)
        p = {
            layer: {
                "kernel": (1 - lr * decay) * p[layer]["kernel"] - lr * g[layer]["kernel"],
                "bias": p[layer]["bias"] - lr * g[layer]["bias"],
            }
            for layer in p
        }
    got = jax.tree.map(lambda x: x[1], params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), got, p)


def test_sweep_rows_are_independent_and_resume(tmp_path):
    train, test = _toy(), _toy(10, seed=1)
    params, metrics = sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=3, **SWEEP)
    assert metrics["test_accuracy"].shape == (2, 3)
    assert not np.allclose(metrics["train_cost"][0], metrics["train_cost"][1])
    # The configurations in the other order: the rows swap, nothing leaks between them.
    swap = jax.tree.map(lambda h: h[::-1], HYPER)
    _, swapped = sgd.run_sweep(NET, swap, KEYS[::-1], KEYS[::-1], train, test, epochs=3, **SWEEP)
    for k in metrics:
        np.testing.assert_allclose(swapped[k][::-1], metrics[k], rtol=1e-5)
    # Stop after 2 epochs, then resume to 3: the same numbers as one run of 3.
    ckpt = tmp_path / "ckpt"
    sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=2, checkpoint=ckpt, **SWEEP)
    seen = []
    resumed_params, resumed = sgd.run_sweep(
        NET,
        HYPER,
        KEYS,
        KEYS,
        train,
        test,
        epochs=3,
        checkpoint=ckpt,
        progress=seen.append,
        **SWEEP,
    )
    assert seen == [2, 3]
    for k in metrics:
        np.testing.assert_allclose(resumed[k], metrics[k], rtol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), resumed_params, params)


def test_summary_picks_best_epoch():
    m = {"test_accuracy": np.array([[0.5, 0.9, 0.8]]), "train_accuracy": np.array([[0.6, 1, 1]])}
    s = sgd.summary(m, 0)
    assert (s["final_test_accuracy"], s["best_test_accuracy"], s["best_epoch"]) == (0.8, 0.9, 2)


# ----------------------------------------------------------------------------- script


def test_script_neuron_only_writes_json(tmp_path, cost_functions):
    out = tmp_path / "cf"
    assert cost_functions.main(["--no-mnist", "--neuron-epochs", "20", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert len(results["neuron"]["runs"]) == 4
    assert (out / "neuron_slowdown.png").stat().st_size < 300_000


def test_script_short_mnist_run(tmp_path, mnist, cost_functions):
    out = tmp_path / "cf"
    args = ["--data-dir", str(Path(mnist.source.removeprefix("idx:")))]
    # The shapes of test_regularization's short run: the compiled sweep is shared.
    args += ["--images", "100", "--test-images", "200", "--hidden", "8"]
    args += ["--epochs", "2", "--neuron-epochs", "5"]
    assert cost_functions.main([*args, "--out", str(out), "--no-progress"]) == 0
    entry = json.loads((out / "results.json").read_text())["mnist"]["784-8-10"]
    for cost in ("cross_entropy", "quadratic"):
        e = entry["costs"][cost]
        assert len(e["curves"]["test_accuracy"]) == 2
        assert 0.1 < e["final_test_accuracy_mean"] <= e["best_test_accuracy_mean"] <= 1.0
    assert entry["costs"]["cross_entropy"]["published_test_accuracy_pct"] is None  # no H = 8


def test_script_bad_argument_is_one_line_exit_2(capsys, cost_functions):
    with pytest.raises(SystemExit) as e:
        cost_functions.main(["--hidden", "x"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ----------------------------------------------------------------------------- Keras MLP


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


def test_keras_script_writes_json(tmp_path, keras_script):
    out = tmp_path / "k"
    args = ["--points", "8", "--batch-size", "8", "--hidden", "4", "--epochs", "1"]
    assert keras_script.main([*args, "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert len(r["fit"]["train_loss"]) == 1 and len(r["fit"]["grid_prediction"]) == 201
    assert r["final_train_mse"] == r["fit"]["train_loss"][-1]
    np.testing.assert_allclose(
        r["fit"]["grid_target"], np.sin(np.pi * np.array(r["fit"]["grid_x"])), atol=1e-6
    )
    assert (out / "fit.png").stat().st_size < 300_000
