"""Greedy pretraining: reconstruction falls, the hand-off to the MLP is exact, the SGD engine
starts from given parameters, same seed gives the same numbers, and the script end to end."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.nn.mlp import MLPSpec
from cnn_jax.studies.pretraining import greedy, rbm
from cnn_jax.studies.pretraining.config import PRESETS, ROWS, PretrainConfig
from cnn_jax.training import sgd

DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR", "")


@pytest.fixture(scope="module")
def slice_(mnist):
    """The first 200 training images as ([200, 784] in [0, 1], one-hot [200, 10])."""
    train, _ = sgd.device_data(mnist, 200)
    return train[0].reshape(200, -1), train[1]


def test_rbm_pretraining_lowers_reconstruction_error(slice_):
    x, _ = slice_
    training = rbm.RBMTraining(epochs=3, batch_size=10, lr=0.1)
    params = rbm.init_rbm(jax.random.key(0), 784, 32, x)
    _, errors = rbm.train_rbm(params, x, jax.random.key(1), training)
    assert errors.shape == (4,)
    assert float(errors[-1]) < 0.9 * float(errors[0])


@pytest.mark.parametrize("corruption", [0.0, 0.3])
def test_autoencoder_pretraining_lowers_reconstruction_cost(slice_, corruption):
    x, _ = slice_
    params = greedy.init_autoencoder(jax.random.key(0), 784, 32, tied=True)
    opt = greedy.LayerSGD(epochs=3, batch_size=10, lr=0.1)
    _, cost = greedy.train_autoencoder(params, x, jax.random.key(1), opt=opt, corruption=corruption)
    assert cost.shape == (4,)
    assert float(cost[-1]) < 0.9 * float(cost[0])


def test_untied_autoencoder_has_its_own_decoder():
    params = greedy.init_autoencoder(jax.random.key(0), 6, 4, tied=False)
    assert params.decoder.shape == (4, 6)
    assert greedy.init_autoencoder(jax.random.key(0), 6, 4, tied=True).decoder is None


NET = MLPSpec((784, 12, 8, 10), "sigmoid", "nielsen", cost="softmax_ce")


def test_the_hand_off_is_exact_and_the_same_seed_gives_the_same_stack(slice_):
    x, targets = slice_
    hidden = NET.sizes[1:-1]
    training = rbm.RBMTraining(epochs=1, batch_size=20)
    stack, _ = rbm.train_stack(x, jax.random.key(2), hidden, training)
    again, _ = rbm.train_stack(x, jax.random.key(2), hidden, training)
    for a, b in zip(jax.tree.leaves(stack), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    other, _ = rbm.train_stack(x, jax.random.key(3), hidden, training)
    assert not np.array_equal(other[0].weights, stack[0].weights)

    drawn = NET.init_params(jax.random.split(jax.random.key(4), 2))
    params = greedy.to_mlp_params(
        [jax.tree.map(lambda w: jnp.stack([w, w]), s) for s in stack], drawn["dense3"]
    )
    for i, layer in enumerate(stack, start=1):
        np.testing.assert_array_equal(params[f"dense{i}"]["kernel"][1], layer.weights)
        np.testing.assert_array_equal(params[f"dense{i}"]["bias"][1], layer.hidden_bias)
    one = jax.tree.map(lambda leaf: leaf[0], params)
    # The MLP's hidden layers compute the stack's hidden probabilities.
    images = x[:60].reshape(60, 28, 28, 1)
    _, state = NET.model().apply({"params": one}, images, mutable=["intermediates"])
    h = rbm.hidden_probs(stack[1], rbm.hidden_probs(stack[0], x[:60]))
    np.testing.assert_allclose(state["intermediates"]["sigmoid2"][0], h, rtol=1e-6, atol=1e-6)

    # run_sweep fine-tunes from exactly these parameters (at a learning rate too small to move).
    data = (images, targets[:60])
    keys = jax.random.split(jax.random.key(5), 2)
    hyper = sgd.hypers([1e-30, 1e-30], 0.0, "softmax_ce")
    out, _ = sgd.run_sweep(
        NET, hyper, keys, keys, data, data, epochs=1, batch_size=10, params=params
    )
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-12)


def test_run_sweep_from_the_drawn_params_is_the_same_run(slice_):
    """``params=`` with the parameters run_sweep would draw changes nothing."""
    x, targets = slice_
    data = (x[:60].reshape(60, 28, 28, 1), targets[:60])
    keys = jax.random.split(jax.random.key(6), 2)
    hyper = sgd.hypers([0.5, 1.0], 0.0, "softmax_ce")
    kwargs = dict(epochs=1, batch_size=10)
    p_drawn, m_drawn = sgd.run_sweep(NET, hyper, keys, keys, data, data, **kwargs)
    given = NET.init_params(keys)
    p_given, m_given = sgd.run_sweep(NET, hyper, keys, keys, data, data, params=given, **kwargs)
    for a, b in zip(jax.tree.leaves(p_drawn), jax.tree.leaves(p_given), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m_drawn["test_accuracy"], m_given["test_accuracy"])
    wrong = jax.tree.map(lambda leaf: leaf[:1], given)
    with pytest.raises(ValueError, match="shape"):
        sgd.run_sweep(NET, hyper, keys, keys, data, data, params=wrong, **kwargs)


TINY = [
    "--hidden", "8", "--images", "100", "--seeds", "2", "--epochs", "1",
    "--pretrain-epochs", "1", "--grad-images", "50", "--filters", "4", "--widen", "0",
    "--no-progress",
]  # fmt: skip


def test_script_writes_results(load_script, mnist, tmp_path, capsys):
    out = tmp_path / "run"
    code = load_script("pretraining").main([*TINY, "--data-dir", DATA_DIR, "--out", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == list(ROWS)
    for row in results["rows"].values():
        assert np.isfinite(row["test_error_mean"]) and 0 <= row["test_error_mean"] <= 100
        assert np.all(np.isfinite(row["delta_norm"]))
        assert np.shape(row["validation_error_by_epoch"]) == (2, 1)
        assert row["chosen_lr"] in row["lrs"] and np.shape(row["validation_error_by_lr"]) == (4, 1)
        assert row["best_epoch"] == [1, 1]  # one epoch: the best is the last
        assert row["early_stopping_test_error"] == row["final_test_error"]
        # per-seed values, the mean's interval, the grid's edge and the per-image bits
        errors = row["early_stopping_test_error"]
        ci = row["early_stopping_test_error_interval"]
        assert len(errors) == 2 and ci["low"] <= np.mean(errors) == ci["estimate"] <= ci["high"]
        assert row["chosen_lr_at_edge"] == (row["chosen_lr"] in (0.1, 3.0))
        assert [len(b) for b in row["correct_bits"]] == [1668, 1668]  # 10,000 bits in base64
        # SGD steps: 5 a fine-tuning epoch (100 images, batch 20), 5 a pretraining layer epoch
        assert row["updates"] == (10.0 if row["pretrain_s"] > 0 else 5.0)
        base = results["rows"]["random init"]["early_stopping_test_error_mean"]
        assert row["gap_to_random_init"] == pytest.approx(
            row["early_stopping_test_error_mean"] - base
        )
        for when in ("before", "after"):
            layers = row["readout"][when]
            assert list(layers) == [f"{row['activation']}1"]
            assert 0 <= layers[f"{row['activation']}1"]["probe_accuracy"] <= 1
    comparisons = results["comparisons"]
    assert set(comparisons) == set(ROWS) - {"random init (zero biases)"}
    for c in comparisons.values():
        assert c["verdict"] in ("inconclusive", "above", "below", "reproduced", "not reproduced")
        assert c["text"].startswith(c["verdict"] + ": ") and len(c["mcnemar"]) == 2
    assert np.shape(results["filters"]["RBM"]) == (4, 784)
    for name in ("filters.png", "validation_error.png", "delta_norms.png"):
        assert (out / name).stat().st_size > 0
    assert "supervised greedy" in capsys.readouterr().out


def test_a_diverging_rate_is_recorded_and_a_rerun_says_it_continues(
    load_script, mnist, tmp_path, capsys
):
    out = tmp_path / "run"
    argv = [
        *TINY, "--rows", "random init,ReLU + He", "--hidden", "12,12", "--lrs", "0.3,1e9",
        "--epochs", "2",
        "--probe-images", "0", "--data-dir", DATA_DIR, "--out", str(out),
    ]  # fmt: skip
    assert load_script("pretraining").main(argv) == 0
    first = capsys.readouterr().out
    assert "whole run: " in first and "min left" in first
    results = json.loads((out / "results.json").read_text())
    row = results["rows"]["ReLU + He"]  # (a sigmoid saturates: its weights stay finite)
    assert row["chosen_lr"] == 0.3 and row["diverged_lrs"] == [1e9]
    assert [(d["lr"], d["seed"]) for d in row["diverged"]] == [(1e9, 0), (1e9, 1)]
    assert all(d["epoch"] == 1 and "not finite" in d["why"] for d in row["diverged"])
    assert "1e+09 (diverged: seed 0 in epoch 1; seed 1 in epoch 1)" in first
    assert load_script("pretraining").main(argv) == 0
    again = capsys.readouterr().out
    assert "continuing: 2 of 2 rows saved in" in again
    assert json.loads((out / "results.json").read_text())["rows"] == results["rows"]


def test_depth_sweep_runs_the_rows_at_each_depth(load_script, mnist, tmp_path):
    out = tmp_path / "run"
    rows = ["--rows", "random init,denoising autoencoder", "--depths", "1,2"]
    code = load_script("pretraining").main(
        [*TINY, *rows, "--data-dir", DATA_DIR, "--out", str(out)]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["depths"]) == ["1", "2"]
    for depth, r in results["depths"].items():
        assert list(r["rows"]) == ["random init", "denoising autoencoder"]
        assert len(r["layers"]) == int(depth) + 1
        assert list(r["pretraining"]) == ["denoising autoencoder"]
    assert (out / "depth_spread.png").stat().st_size > 0
    assert (out / "depth2" / "progress.json").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--corruption", "1.5"],
        ["--filters", "9"],
        ["--seeds", "1"],
        ["--images", "70000"],
        ["--images", "55000"],
        ["--validation", "20000"],
        ["--rows", "random init,DBN"],
        ["--full", "--converged"],
        ["--preset", "tiny", "--full"],
    ],
)
def test_bad_flags_exit_2_before_writing(load_script, mnist, tmp_path, capsys, flags):
    out = tmp_path / "run"
    argv = [*TINY, *flags, "--data-dir", DATA_DIR, "--out", str(out)]
    with pytest.raises(SystemExit) as e:
        load_script("pretraining").main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not out.exists()


def test_every_config_flag_helps_in_a_sentence():
    import dataclasses

    helps = [f.metadata["help"] for f in dataclasses.fields(PretrainConfig) if f.metadata]
    assert len(helps) == 21
    for text in helps:
        assert text[0].isupper() and text.endswith("."), text


def test_presets_set_the_config_and_flags_given_win(load_script):
    parse = load_script("pretraining").parse_config
    _, config = parse(["--full", "--seeds", "4", "--untied"])
    assert config == PretrainConfig.preset("full", seeds=4, tied=False)
    assert config.hidden == (1000, 1000, 1000) and config.images is None
    assert parse([])[1] == PretrainConfig()
    _, config = parse(["--converged"])
    assert config == PretrainConfig.preset("converged")
    assert config.patience > 0 and "random init" in config.rows and config.images is None
    _, config = parse(["--preset", "converged", "--hidden", "100,100,100", "--epochs", "3"])
    assert config.hidden == (100, 100, 100) and config.epochs == 3 and config.patience == 5
    _, config = parse(["--preset", "tiny"])
    assert config == PretrainConfig.tiny() and config.hidden == PRESETS["tiny"].fields["hidden"]
    for preset in PRESETS.values():
        assert preset.why and set(preset.fields) <= set(vars(PretrainConfig()))


def test_the_presets_are_readable_without_jax():
    import subprocess
    import sys

    code = (
        "import sys; from cnn_jax.studies.pretraining.config import PretrainConfig; "
        "PretrainConfig.preset('tiny'); sys.exit('jax' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_the_whole_run_estimate_prices_each_kind_of_stage_by_its_own_rate():
    from cnn_jax.studies.pretraining.estimate import WholeRun, stage_work

    config = PretrainConfig.tiny(rows=("random init", "RBM"))
    work = stage_work(config, images=100, validation=100)
    assert list(work) == ["RBM layer 1", "random init", "RBM"]
    lines = []
    whole = WholeRun({"A layer 1": 10.0, "x": 100.0, "y": 100.0}, bound=True, log=lines.append)
    whole.finished("A layer 1", 60.0)  # 6 s a unit: the rows are priced at it, none timed yet
    assert "about 20 min left at most (2 of 3 stages to go)" in lines[-1]
    whole.finished("x", 60.0)  # a row timed: 0.6 s a unit for the row left
    assert "about 1 min left at most (1 of 3 stages to go)" in lines[-1]
    whole.saved("y")
    assert whole.remaining() == "done"
