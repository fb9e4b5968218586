"""Probes, nearest class means, separation, CKA and PCA against references; the script."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from cnn_jax.inside import probe_networks, probe_page, probe_plots, probes
from cnn_jax.report import docs
from cnn_jax.training import train
from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import run


def _split(x, y, n_train):
    as_jnp = (jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32))
    return (as_jnp[0][:n_train], as_jnp[1][:n_train]), (as_jnp[0][n_train:], as_jnp[1][n_train:])


def _linear_classes(n=2000, d=10, seed=0):
    """Features whose class is the argmax of a fixed linear map of them, with a margin."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, 10))
    x = rng.normal(size=(10 * n, d))
    scores = np.sort(x @ a, axis=1)
    x = x[scores[:, -1] - scores[:, -2] > 1.0][:n]  # keep points off the boundaries
    return x, np.argmax(x @ a, axis=1)


def test_probe_separates_linear_classes():
    x, y = _linear_classes()
    (xtr, ytr), (xte, yte) = _split(x, y, 1500)
    out = probes.fit_linear_probe(xtr, ytr, xte, yte, l2=0.0, lr=0.05, steps=400)
    assert float(out["train_accuracy"]) > 0.98
    assert float(out["test_accuracy"]) > 0.97


def _autodiff_probe(xtr, ytr, xte, yte, *, l2, lr, steps):
    """The probe as autodiff writes it: optax's Adam on jax.grad of the same loss."""
    mean = xtr.mean(0, keepdims=True)
    std = jnp.sqrt(jnp.mean((xtr - mean) ** 2)) + 1e-6
    xs, xt = (xtr - mean) / std, (xte - mean) / std
    params = {"w": jnp.zeros((xs.shape[1], 10)), "b": jnp.zeros(10)}
    tx = optax.adam(lr)
    state = tx.init(params)

    def loss_fn(p):
        logits = xs @ p["w"] + p["b"][None, :]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, ytr).mean()
        return ce + l2 * jnp.sum(p["w"] ** 2)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    for _ in range(steps):
        params, state, loss = step(params, state)
    logits = xt @ params["w"] + params["b"][None, :]
    return float(loss), np.asarray(jnp.argmax(logits, axis=1))


def test_probe_gradient_in_closed_form_matches_autodiff():
    rng = np.random.default_rng(6)
    # More features than training images, and rectified: like a conv layer after its ReLU.
    x = np.maximum(rng.normal(size=(300, 40)) @ rng.normal(size=(40, 250)), 0)
    y = rng.integers(0, 10, 300)
    (xtr, ytr), (xte, yte) = _split(x, y, 200)
    out = probes.fit_linear_probe(xtr, ytr, xte, yte, l2=1e-3, lr=1e-2, steps=30)
    loss, predictions = _autodiff_probe(xtr, ytr, xte, yte, l2=1e-3, lr=1e-2, steps=30)
    assert float(out["train_loss"]) == pytest.approx(loss, rel=1e-4)
    assert float(out["test_accuracy"]) == pytest.approx(np.mean(predictions == np.asarray(yte)))


def test_probe_on_noise_stays_near_chance():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(3000, 50)), rng.integers(0, 10, 3000)
    (xtr, ytr), (xte, yte) = _split(x, y, 1000)
    out = probes.fit_linear_probe(xtr, ytr, xte, yte, steps=100)
    assert 0.05 < float(out["test_accuracy"]) < 0.16


def test_nearest_mean_and_separation():
    rng = np.random.default_rng(2)
    y = np.tile(np.arange(10), 60)
    centres = rng.normal(size=(10, 30)) * 5
    x = centres[y] + rng.normal(size=(600, 30))
    (xtr, ytr), (xte, yte) = _split(x, y, 400)
    assert float(probes.nearest_mean_accuracy(xtr, ytr, xte, yte)) == 1.0
    noise = jnp.asarray(rng.normal(size=(600, 30)), jnp.float32)
    clustered = probes.class_separation(jnp.asarray(x, jnp.float32), jnp.asarray(y))
    assert float(clustered) > 10 * float(probes.class_separation(noise, jnp.asarray(y)))


def _numpy_cka(x, y):
    """Kornblith et al.'s feature-space formula, in float64."""
    x, y = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(y.T @ x) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def test_linear_cka_properties_and_reference():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 40))
    y = x[:, :25] @ rng.normal(size=(25, 15)) + rng.normal(size=(100, 15))
    q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    assert float(probes.linear_cka(xj, xj)) == pytest.approx(1.0, abs=1e-5)
    reference = _numpy_cka(x, y)
    assert float(probes.linear_cka(xj, yj)) == pytest.approx(reference, abs=1e-4)
    rotated = jnp.asarray(3.5 * x @ q, jnp.float32)  # orthogonal transform, isotropic scale
    assert float(probes.linear_cka(rotated, yj)) == pytest.approx(reference, abs=1e-4)
    matrix = probes.cka_matrix(
        {"x": probes.centered_gram(xj)},
        {"x": probes.centered_gram(xj), "y": probes.centered_gram(yj)},
    )
    np.testing.assert_allclose(matrix, [[1.0, reference]], atol=1e-4)


def _align_signs(a, b):
    return a * np.sign(np.sum(a * b, axis=0, keepdims=True))


@pytest.mark.parametrize("shape", [(200, 30), (40, 120)])
def test_pca_matches_numpy(shape):
    rng = np.random.default_rng(4)
    x = rng.normal(size=shape) * np.geomspace(5, 0.5, shape[1])
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    scores, components, explained = probes.pca(jnp.asarray(x, jnp.float32), 5)
    np.testing.assert_allclose(
        _align_signs(np.asarray(scores), u[:, :5] * s[:5]), u[:, :5] * s[:5], atol=1e-3
    )
    np.testing.assert_allclose(
        _align_signs(np.asarray(components).T, vt[:5].T), vt[:5].T, atol=1e-4
    )
    np.testing.assert_allclose(explained, s[:5] ** 2 / np.sum(s**2), rtol=1e-4)


def test_randomized_pca_matches_full_on_decaying_spectrum():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(150, 8)) * np.geomspace(10, 1, 8) @ rng.normal(size=(8, 300))
    x = jnp.asarray(x + 0.01 * rng.normal(size=(150, 300)), jnp.float32)
    full, _, _ = probes.pca(x, 3)
    fast, _, _ = probes.pca(x, 3, key=jax.random.key(0))
    np.testing.assert_allclose(
        np.asarray(fast), np.asarray(full), atol=1e-2 * float(jnp.abs(full).max())
    )


# ----------------------------------------------------------------------------- the script

TINY = ["--at-init", "mlp", "--train-images", "100", "--test-images", "50", "--steps", "20",
        "--no-progress"]  # fmt: skip


def test_script_writes_results_without_nan(load_script, mnist, tmp_path, monkeypatch, capsys):
    import cnn_jax.cli

    monkeypatch.setattr(cnn_jax.cli, "load_mnist", lambda *a, **k: mnist)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    out = tmp_path / "probes"
    assert load_script("probe_layers").main([*TINY, "--out", str(out)]) == 0
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"  # cli.one_lapack_thread
    text = (out / "results.json").read_text()
    results = json.loads(text)  # strict JSON: a NaN would not have been written
    assert "NaN" not in text
    run = results["runs"][0]
    assert list(run["layers"])[:3] == ["input", "flatten", "dense1"]
    for row in run["layers"].values():
        assert 0 <= row["probe_test_accuracy"] <= 1
        assert np.isfinite(row["separation"])
    assert np.allclose(np.diag(run["cka"]), 1, atol=1e-4)
    for name in ("index.html", "probe_accuracy.png", "cka_0.png", "pca_0.png", "pca.npz"):
        assert (out / name).is_file()


TINY_MLP = TrainConfig.tiny(arch="mlp", mlp_widths=(16, 10), activation="sigmoid", init="nielsen",
                            loss="sigmoid_ce", seed=7)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(mnist, tmp_path_factory):
    """(run folder, the parameters its training started from) of a tiny sigmoid MLP trained
    one epoch, its initialization kept as the checkpoint of epoch 0."""
    started, create_train_state = [], train.create_train_state

    def recording(cfg, key):
        state = create_train_state(cfg, key)
        started.append(jax.tree.map(np.asarray, state.params))
        return state

    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "create_train_state", recording)
        run(TINY_MLP, run_dir, mnist, log=lambda _: None, keep_epochs=(0,))
    return run_dir, started[0]


def test_at_init_of_rebuilds_the_runs_parameters_before_its_first_step(tiny_run):
    run_dir, started = tiny_run
    requests = [(probe_networks.INIT_OF_RUN, str(run_dir)), (probe_networks.TRAINED, str(run_dir))]
    at_init, trained = probe_networks.networks_to_probe(requests, seed=0, key=jax.random.key(0))
    rebuilt = at_init["params"]()
    assert jax.tree.structure(rebuilt) == jax.tree.structure(started)
    jax.tree.map(np.testing.assert_array_equal, rebuilt, started)
    # ... and not the trained ones, nor the same architecture from another seed.
    assert not np.array_equal(trained["params"]()["dense1"]["kernel"], started["dense1"]["kernel"])
    other = train.create_train_state(TINY_MLP, jax.random.key(0)).params
    assert not np.array_equal(other["dense1"]["kernel"], started["dense1"]["kernel"])
    assert at_init["source"]["seed"] == 7 and at_init["source"]["initialization_of"] == str(run_dir)


def test_epochs_probe_each_kept_checkpoint_and_epoch_0_is_the_init(tiny_run):
    run_dir, started = tiny_run
    requests = [(probe_networks.TRAINED, str(run_dir))]
    nets = probe_networks.networks_to_probe(requests, seed=0, key=jax.random.key(0), epochs=(0, 1))
    assert [n["label"] for n in nets] == ["run (epoch 0)", "run (epoch 1)"]
    assert [n["source"]["epoch"] for n in nets] == [0, 1]
    jax.tree.map(np.testing.assert_array_equal, nets[0]["params"](), started)
    latest = probe_networks.networks_to_probe(requests, seed=0, key=jax.random.key(0))[0]
    jax.tree.map(np.testing.assert_array_equal, nets[1]["params"](), latest["params"]())
    assert not np.array_equal(nets[1]["params"]()["dense1"]["kernel"], started["dense1"]["kernel"])


def test_by_epoch_gathers_each_folder_as_layer_by_epoch():
    def probed(folder, epoch, accuracy):
        layers = {n: {"probe_test_accuracy": accuracy + i, "nearest_mean_accuracy": -accuracy}
                  for i, n in enumerate(("input", "dense1"))}  # fmt: skip
        source = {"checkpoint": folder, "epoch": epoch, "test_accuracy": accuracy,
                  "config": {"activation": folder}}  # fmt: skip
        return {"source": source, "layers": layers}

    runs = [probed("sigmoid", 5, 0.5), probed("sigmoid", 0, 0.1), probed("relu", 0, 0.2),
            probed("relu", 2, 0.3), probed("once", 3, 0.9),
            {"source": {"checkpoint": None}, "layers": {}}]  # fmt: skip
    found = probe_networks.by_epoch(runs)
    assert [f["label"] for f in found] == ["sigmoid", "relu"]  # "once": one epoch only
    sigmoid = found[0]
    assert sigmoid["epochs"] == [0, 5] and sigmoid["test_accuracy"] == [0.1, 0.5]
    assert sigmoid["layers"] == ["input", "dense1"]
    assert sigmoid["probe_test_accuracy"] == {"input": [0.1, 0.5], "dense1": [1.1, 1.5]}
    assert sigmoid["nearest_mean_accuracy"]["dense1"] == [-0.1, -0.5]


def test_docs_figures_are_runs_figures_drawn_from_the_snapshot(tmp_path):
    """docs/probes/*.png that --docs draws are the figures a run writes from its results.json
    alone, drawn from docs/results/probes.json (the bytes against the committed ones:
    tests/report/test_docs_drift.py); a snapshot without the runs is a KeyError, which leaves
    the figure as it is."""
    drawn = {p.name for p in docs.draw_figures(docs.ROOT, "probes", into=tmp_path)}
    committed = {p.name for p in (docs.ROOT / "docs" / "probes").glob("*.png")}
    assert drawn == set(probe_plots.FIGURES) <= committed
    written = probe_page.figure_paths({"runs": [], "cross_cka": [], "by_epoch": [{}]})
    assert set(probe_plots.OF_RESULTS) == {written["probe_accuracy"], written["by_epoch"]}
    for draw in probe_plots.FIGURES.values():
        with pytest.raises(KeyError):
            draw({})
    # mlp_probe_accuracy.png: each network's last epoch beside its first
    runs = [{"label": f"a (epoch {e})"} for e in (0, 1, 2)] + [{"label": "b (epoch 0)"}]
    by_epoch = [{"label": "a", "epochs": [0, 1, 2]}, {"label": "b", "epochs": [0, 2]}]
    with pytest.raises(KeyError):  # b was not probed at epoch 2
        probe_plots.trained_and_init({"runs": runs, "by_epoch": by_epoch})
    runs.append({"label": "b (epoch 2)"})
    picked = probe_plots.trained_and_init({"runs": runs, "by_epoch": by_epoch})["runs"]
    assert [r["label"] for r in picked] == ["a (epoch 2)", "a (epoch 0)", "b (epoch 2)",
                                            "b (epoch 0)"]  # fmt: skip


def test_cka_pairs_first_against_all_and_each_run_against_its_init():
    def net(**source):
        return {"source": {"checkpoint": None, **source}}

    nets = [net(checkpoint="a"), net(initialization_of="a"), net(checkpoint="b"),
            net(initialization_of="b"), net(arch="mlp")]  # fmt: skip
    assert probe_networks.cka_pairs(nets) == [(0, 1), (0, 2), (0, 3), (0, 4), (2, 3)]
    assert probe_networks.cka_pairs(nets[:1]) == []


def test_script_keeps_the_order_of_the_command_line(load_script, mnist, tiny_run, tmp_path,
                                                    monkeypatch, capsys):  # fmt: skip
    import cnn_jax.cli

    monkeypatch.setattr(cnn_jax.cli, "load_mnist", lambda *a, **k: mnist)
    run_dir, _ = tiny_run
    out = tmp_path / "probes"
    argv = ["--at-init-of", str(run_dir), "--at-init", "mlp", "--checkpoint", str(run_dir)]
    assert load_script("probe_layers").main([*argv, *TINY[2:], "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    labels = [r["label"] for r in results["runs"]]
    assert labels == ["run at init", "mlp at init", "run (epoch 1)"]
    assert [(p["a"], p["b"]) for p in results["cross_cka"]] == [
        (labels[0], labels[1]), (labels[0], labels[2])
    ]  # fmt: skip
    assert "before its first step (seed 7)" in (out / "index.html").read_text()
    assert results["by_epoch"] == [] and not (out / "probe_by_epoch.png").exists()


def test_script_probes_chosen_epochs(load_script, mnist, tiny_run, tmp_path, monkeypatch):
    import cnn_jax.cli

    monkeypatch.setattr(cnn_jax.cli, "load_mnist", lambda *a, **k: mnist)
    run_dir, _ = tiny_run
    out = tmp_path / "probes"
    argv = ["--checkpoint", str(run_dir), "--epochs", "1,0"]
    assert load_script("probe_layers").main([*argv, *TINY[2:], "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["label"] for r in results["runs"]] == ["run (epoch 0)", "run (epoch 1)"]
    (found,) = results["by_epoch"]
    assert found["epochs"] == [0, 1] and found["activation"] == "sigmoid"
    for probed in results["runs"]:
        i = found["epochs"].index(probed["source"]["epoch"])
        for layer, row in probed["layers"].items():
            assert found["probe_test_accuracy"][layer][i] == row["probe_test_accuracy"]
    assert (out / "probe_by_epoch.png").is_file()
    assert "probe_by_epoch.png" in (out / "index.html").read_text()


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no network
        ["--at-init", "resnet"],
        ["--at-init-of", "/nonexistent/run"],
        ["--at-init-of", "."],  # a folder without checkpoints
        ["--at-init", "mlp", "--train-images", "0"],
        ["--at-init", "mlp", "--l2", "nan"],
        ["--at-init", "mlp", "--test-images", "5", "--components", "10"],
        ["--checkpoint", "/nonexistent/run"],
        ["--at-init", "mlp", "--epochs", "0,1"],  # --epochs without a --checkpoint
        ["--at-init", "mlp", "--epochs", "-1"],
    ],
)
def test_bad_flags_one_line_exit_2_nothing_written(load_script, tmp_path, capsys, argv):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        load_script("probe_layers").main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not out.exists()
