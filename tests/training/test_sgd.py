"""Nielsen's vmapped mini-batch SGD engine: his update by hand, independent rows, resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax import cli
from cnn_jax.errors import Diverged, UsageError
from cnn_jax.nn import losses
from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.training import sgd


def _toy(n=20, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 2, 1)).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    y = np.eye(k, dtype=np.float32)[labels]
    return jnp.asarray(x), jnp.asarray(y)


NET = MLPSpec((4, 5, 3), "sigmoid", "large")
HYPER = sgd.hypers([0.5, 3.0], [0.0, 0.01], ["sigmoid_ce", "quadratic"])
KEYS = jax.random.split(jax.random.key(0), 2)
# block 1: every run_sweep call below shares one compilation per sweep width.
SWEEP = dict(batch_size=4, block=1)


def test_epoch_is_nielsens_mini_batch_sgd():
    """Row 1 (quadratic, L2) after one epoch equals 5 steps of Nielsen's update by hand:
    w ← (1 − ηλ/n)·w − η·∇C_batch on kernels, b ← b − η·∇C_batch, on his shuffle."""
    train, test = _toy(), _toy(10, seed=1)
    params, _ = sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=1, **SWEEP)
    p = jax.tree.map(lambda x: x[1], NET.init_params(KEYS, (2, 2, 1)))
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

    class Bar(cli.SilentBar):
        def update(self, k):
            super().update(k)
            seen.append(self.n)

    resumed_params, resumed = sgd.run_sweep(
        NET,
        HYPER,
        KEYS,
        KEYS,
        train,
        test,
        epochs=3,
        checkpoint=ckpt,
        progress=lambda desc, total: Bar(),
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


def _flip_a_byte(checkpoint_dir):
    """XOR bytes inside the largest array file of a saved state, as a bad disk would."""
    files = [p for p in (checkpoint_dir / "state").rglob("*") if p.is_file()]
    target = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 8):
        data[i] ^= 0xFF
    target.write_bytes(bytes(data))


def test_corrupt_latest_checkpoint_falls_back_and_ends_equal(tmp_path):
    train, test = _toy(), _toy(10, seed=1)
    _, straight = sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=3, **SWEEP)
    ckpt = tmp_path / "ckpt"
    sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=2, checkpoint=ckpt, **SWEEP)
    _flip_a_byte(ckpt / "2")
    said = []
    _, resumed = sgd.run_sweep(
        NET, HYPER, KEYS, KEYS, train, test, epochs=3, checkpoint=ckpt, log=said.append, **SWEEP
    )
    assert len(said) == 1 and "epoch 2 is corrupt" in said[0], said
    for k in straight:
        np.testing.assert_allclose(resumed[k], straight[k], rtol=1e-5)


def test_folder_of_another_sweep_is_refused(tmp_path):
    train, test = _toy(), _toy(10, seed=1)
    ckpt = tmp_path / "ckpt"
    sgd.run_sweep(NET, HYPER, KEYS, KEYS, train, test, epochs=1, checkpoint=ckpt, **SWEEP)
    other = jax.tree.map(lambda h: h[::-1], HYPER)
    with pytest.raises(UsageError, match="holds checkpoints of another run"):
        sgd.run_sweep(NET, other, KEYS, KEYS, train, test, epochs=2, checkpoint=ckpt, **SWEEP)


def test_divergence_stops_before_saving(tmp_path):
    train, test = _toy(), _toy(10, seed=1)
    huge = sgd.hypers([1e38, 1e38], 0.0, ["sigmoid_ce", "sigmoid_ce"])
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Diverged, match="lower the learning rate"):
        sgd.run_sweep(NET, huge, KEYS, KEYS, train, test, epochs=2, checkpoint=ckpt, **SWEEP)
    assert sgd.load_checkpoint(ckpt) is None  # nothing non-finite was saved


def test_map_engine_gives_the_vmapped_engines_parameters():
    """The configurations one after another (plain matmuls, weights updated in place) give
    the parameters of all at once (batched matmuls), up to float rounding: here 3 epochs of
    15 steps of a 3-hidden-layer tanh net, two costs, one with L2."""
    net = MLPSpec((4, 16, 16, 16, 3), "tanh", "standard", cost="softmax_ce")
    hyper = sgd.hypers([0.3, 0.1], [0.0, 0.01], ["softmax_ce", "quadratic"])
    train, test = _toy(n=45), _toy(10, seed=1)
    params = net.init_params(KEYS, (2, 2, 1))
    got = {
        engine: sgd._train_block(
            params, hyper, KEYS, train, test, 0, net=net, epochs=3, batch_size=3, engine=engine
        )
        for engine in sgd.ENGINES
    }
    (p_map, m_map), (p_vmap, m_vmap) = got["map"], got["vmap"]
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), p_map, params)
    assert min(jax.tree.leaves(moved)) > 1e-3  # the steps changed every leaf
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), p_map, p_vmap)
    for a, b in zip(m_map, m_vmap, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_sgd_epoch_is_a_train_block_without_metrics():
    train, test = _toy(), _toy(10, seed=1)
    params = NET.init_params(KEYS, (2, 2, 1))
    block, _ = sgd._train_block(
        params, HYPER, KEYS, train, test, 0, net=NET, epochs=1, batch_size=4
    )
    epoch = sgd.sgd_epoch(
        jax.tree.map(jnp.copy, params), HYPER, KEYS, train, 0, net=NET, batch_size=4
    )
    jax.tree.map(np.testing.assert_array_equal, epoch, block)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of"):
        sgd.each_config(lambda x: x, (jnp.zeros(2),), engine="pmap")


def test_wide_networks_go_one_after_another_and_narrow_ones_side_by_side():
    assert sgd.engine_for(MLPSpec((784, *[1000] * 5, 10), "tanh", "standard")) == "map"
    assert sgd.engine_for(MLPSpec((784, 500, 500, 500, 10))) == "map"
    assert sgd.engine_for(MLPSpec((784, 30, 10))) == "vmap"
    assert sgd.engine_for(MLPSpec((784, 100, 10))) == "vmap"


def test_accelerators_keep_every_network_side_by_side(monkeypatch):
    monkeypatch.setattr(sgd.jax, "default_backend", lambda: "gpu")
    assert sgd.engine_for(MLPSpec((784, *[1000] * 5, 10), "tanh", "standard")) == "vmap"
