"""The optimizers a 2016 Keras user had by default, one step each against Keras 1's
update written out by hand, and the default (Adam 1e-3) left exactly as it was."""

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnn_jax.errors import UsageError
from cnn_jax.training.config import OPTIMIZERS, TrainConfig
from cnn_jax.training.train import make_optimizer

W = jnp.array([0.5, -1.0, 2.0], jnp.float32)
G = jnp.array([0.1, -0.3, 2.0], jnp.float32)


def two_steps(name, lr):
    tx = make_optimizer(TrainConfig(optimizer=name, lr=lr))
    state = tx.init(W)
    w = W
    for _ in range(2):
        updates, state = tx.update(G, state, w)
        w = optax.apply_updates(w, updates)
    return np.asarray(w)


def test_rmsprop_is_keras1s():
    """a ← ρa + (1 − ρ)g², w ← w − lr·g/(√a + ε), ρ = 0.9, ε = 1e-8, a starts at 0."""
    a, w = np.zeros(3), np.asarray(W, np.float64)
    for _ in range(2):
        a = 0.9 * a + 0.1 * np.asarray(G) ** 2
        w = w - 1e-3 * np.asarray(G) / (np.sqrt(a) + 1e-8)
    np.testing.assert_allclose(two_steps("rmsprop", 1e-3), w, rtol=1e-6)


def test_adadelta_is_keras1s():
    """a ← ρa + (1 − ρ)g²; u = g·√(d + ε)/√(a + ε); w ← w − lr·u; d ← ρd + (1 − ρ)u²."""
    a, d, w = np.zeros(3), np.zeros(3), np.asarray(W, np.float64)
    g = np.asarray(G, np.float64)
    for _ in range(2):
        a = 0.95 * a + 0.05 * g**2
        u = g * np.sqrt(d + 1e-8) / np.sqrt(a + 1e-8)
        w = w - 1.0 * u
        d = 0.95 * d + 0.05 * u**2
    np.testing.assert_allclose(two_steps("adadelta", 1.0), w, rtol=1e-5)


def test_sgd_is_plain_and_the_default_is_adam_1e3_unchanged():
    np.testing.assert_allclose(two_steps("sgd", 0.01), W - 2 * 0.01 * G, rtol=1e-6)
    default = TrainConfig()
    assert (default.optimizer, default.lr) == ("adam", 1e-3)
    tx, ref = make_optimizer(default), optax.adam(1e-3)
    mine, theirs = tx.update(G, tx.init(W), W)[0], ref.update(G, ref.init(W), W)[0]
    np.testing.assert_array_equal(mine, theirs)  # bit for bit


def test_every_optimizer_is_a_flag_and_others_are_refused():
    assert set(OPTIMIZERS) >= {"sgd", "rmsprop", "adadelta", "adam"}
    with pytest.raises(UsageError, match="optimizer: must be one of"):
        TrainConfig(optimizer="adagrad")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--optimizer", "adagrad"], "--optimizer: invalid choice: 'adagrad'"),
        (["--optimizer", "rmsprop", "--lr", "-1"], "--lr: must be a finite number > 0"),
        (["--arch", "study_dep"], "--arch: invalid choice: 'study_dep'"),
    ],
)
def test_bad_optimizer_is_one_line_exit_2(argv, message, load_script, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        load_script("mnist_cnn").main([*argv, "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_the_optimizer_is_recorded_with_the_run(tmp_path, capsys, mnist, load_script):
    del mnist
    out = tmp_path / "r"
    argv = ["--arch", "study_deep", "--optimizer", "rmsprop", "--lr", "0.001", "--limit",
            "64", "--test-limit", "100", "--batch-size", "32", "--eval-batch-size", "100",
            "--epochs", "1", "--no-progress", "--out", str(out)]  # fmt: skip
    assert load_script("mnist_cnn").main(argv) == 0
    capsys.readouterr()
    config = json.loads((out / "results.json").read_text())["config"]
    assert (config["optimizer"], config["lr"], config["arch"]) == ("rmsprop", 0.001, "study_deep")
