"""experiments/dropout_gap.py on two tiny saved runs: eval-mode accuracies, checked by hand."""

import json
import shutil
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

from cnn_jax.data import scale
from cnn_jax.training.checkpoint import LAST_READER
from cnn_jax.training.run import load_run
from cnn_jax.training.train import build_model


@pytest.fixture(scope="module")
def mnist_cnn(load_script):
    return load_script("mnist_cnn")


@pytest.fixture(scope="module")
def dropout_gap(load_script):
    return load_script("dropout_gap")


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def two_runs(mnist, tmp_path_factory, mnist_cnn):
    del mnist
    root = tmp_path_factory.mktemp("runs")
    runs = []
    for rate in ("0", "0.5"):
        out = root / f"dropout{rate}"
        argv = ["--arch", "mlp", "--widths", "30,10", "--dropout", rate, "--limit", "400",
                "--test-limit", "100", "--batch-size", "20", "--epochs", "2", "--no-progress",
                "--out", str(out)]  # fmt: skip
        assert mnist_cnn.main(argv) == 0
        runs.append(out)
    return runs


def test_eval_mode_accuracies_match_a_direct_forward_pass(
    two_runs, mnist, tmp_path, capsys, dropout_gap
):
    out = tmp_path / "gap"
    code = dropout_gap.main([*map(str, two_runs), "--test-limit", "300", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())["runs"]
    for run in two_runs:
        row = rows[str(run)]
        saved = load_run(run)
        # The run trained on its first 400 images; those are what "train" evaluates.
        assert row["train_images"] == 400 and row["test_images"] == 300
        model = build_model(saved.config)
        for split, images, labels in (
            ("train", mnist.train_images[:400], mnist.train_labels[:400]),
            ("test", mnist.test_images[:300], mnist.test_labels[:300]),
        ):
            logits = model.apply({"params": saved.params}, jnp.asarray(scale(images)))
            expected = float(np.mean(np.argmax(np.asarray(logits), -1) == labels))
            assert row[f"{split}_accuracy"] == pytest.approx(expected, abs=1e-9)
        assert row["gap"] == pytest.approx(row["train_accuracy"] - row["test_accuracy"])
        assert row["logged_train_accuracy"] == saved.history[-1]["train_accuracy"]
        assert row["epoch"] == 2 and row["dropout"] == saved.config.dropout
        assert str(run) in printed
    assert [rows[str(run)]["dropout"] for run in two_runs] == [0.0, 0.5]


def test_missing_run_is_one_line_and_exit_2(tmp_path, capsys, dropout_gap):
    with pytest.raises(SystemExit) as exit_info:
        dropout_gap.main([str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "does not exist" in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_run_is_one_line_and_exit_2(two_runs, tmp_path, capsys, dropout_gap):
    run = tmp_path / "run"
    shutil.copytree(two_runs[0], run)
    data = run / "checkpoints" / "2" / "state" / "ocdbt.process_0" / "d"
    largest = max(data.iterdir(), key=lambda f: f.stat().st_size)
    raw = bytearray(largest.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    largest.write_bytes(bytes(raw))
    out = tmp_path / "gap"
    with pytest.raises(SystemExit) as exit_info:
        dropout_gap.main([str(run), "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    # Where the flipped byte lands (array data or TensorStore's framing) decides which of
    # the checkpoint's two corruption checks catches it; either is one line naming it.
    reasons = ("(digest mismatch)", "or unreadable (its arrays cannot be read)")
    assert err in [f"dropout_gap.py: error: {run}/checkpoints/2 is corrupt {r}\n" for r in reasons]
    assert not out.exists()


def test_run_saved_without_a_digest_is_refused_in_one_line(two_runs, tmp_path, capsys, dropout_gap):
    run = tmp_path / "run"
    shutil.copytree(two_runs[0], run)
    shutil.rmtree(run / "checkpoints" / "2" / "digest")
    with pytest.raises(SystemExit) as exit_info:
        dropout_gap.main([str(run), "--out", str(tmp_path / "gap")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err == (
        f"dropout_gap.py: error: {run}/checkpoints/2 was saved by an older cnn_jax; rerun, or "
        f"check out {LAST_READER} to read it\n"
    )
