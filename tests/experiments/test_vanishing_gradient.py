"""experiments/vanishing_gradient.py: flags, one-line errors, and a tiny end-to-end run on
fake IDX files (no real MNIST needed)."""

import json
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def script(load_script):
    return load_script("vanishing_gradient")


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 24), ("t10k", 12)):
        write_idx(folder / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    return folder


def test_help_lists_the_flags(script, help_text):
    text = help_text(script.main)
    for flag in ("--seeds", "--hidden", "--train", "--epochs", "--out", "--data-dir"):
        assert flag in text


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--seeds", "0"], "must be >= 1"),
        (["--hidden", "2,x"], "comma-separated integers"),
        (["--hidden", "0"], "entries must be >= 1"),
        (["--train", "--epochs", "5", "--eval-every", "2"], "must divide"),
        (["--data-dir", "/no/such/folder"], "does not exist"),
        (["--train", "--lr", "nan"], "must be a finite number > 0"),
        (["--train", "--lr", "0"], "must be a finite number > 0"),
        (["--train", "--lam", "-5"], "must be a finite number >= 0"),
        (["--seed", "99999999999999999999999"], "must be in [0, 2**32)"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(script, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_images_beyond_the_data_is_an_error(script, fake_mnist, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data-dir", str(fake_mnist), "--images", "25"])
    assert exit_info.value.code == 2
    assert "--images 25 is more than the 24 training images" in capsys.readouterr().err


def test_tiny_run_writes_results_and_figures(script, fake_mnist, tmp_path, capsys):
    out = tmp_path / "out"
    code = script.main(
        [
            "--data-dir",
            str(fake_mnist),
            "--images",
            "16",
            "--seeds",
            "4",
            "--hidden",
            "1,2",
            "--comparison-hidden",
            "1",
            "--train",
            "--train-seeds",
            "4",
            "--epochs",
            "2",
            "--eval-every",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    entry = results["delta_norms"]["784-30-10"]
    for key in ("median", "p01", "p05", "p95", "p99"):
        assert len(entry[key]) == 1  # one hidden layer
    assert entry["p01"][0] <= entry["median"][0] <= entry["p99"][0]
    assert 4.8 < results["predicted_shrink"]["784-30-10"] < 5.0
    assert set(results["comparison"]) == {"sigmoid + MSE", "sigmoid + CE", "ReLU + CE"}
    assert results["comparison"]["ReLU + CE"]["predicted_shrink"] == pytest.approx(1.0)
    # sigmoid + CE with one hidden layer is Nielsen's 784-30-10: measured once.
    assert results["comparison"]["sigmoid + CE"]["median"][0] == pytest.approx(entry["median"][0])
    t = results["training"]["ReLU + CE"]
    assert t["epoch"] == [0, 1, 2] and np.asarray(t["delta_norm"]).shape == (3, 2)
    assert len(t["test_accuracy"]) == 3
    band = t["delta_norm_band"]
    assert set(band) == {"min", "p10", "median", "p90", "max"} and t["train_seeds"] == 4
    assert np.all(np.asarray(band["min"]) <= np.asarray(band["max"]))
    # Nielsen recorded 2 and more hidden layers: his epochs 0, 1, 2 against our 4 seeds.
    assert list(results["nielsen_training"]) == ["784-30-30-10"]
    o = results["nielsen_training"]["784-30-30-10"]
    assert o["epoch"] == [0, 1, 2] and o["layers"] == ["dense1", "dense2"] and o["seeds"] == 4
    numbers = [o[k] for k in ("ours_min", "ours_median", "ours_max", "percentile")]
    numbers += [
        o["log10_published_over_median"],
        [list(r.values()) for r in o["ratio_ours"].values()],
    ]
    assert np.isfinite(np.asarray([x for n in numbers for x in np.ravel(n)], float)).all()
    assert 0 <= o["inside_min_max"] <= 1
    for name in (
        "delta_norms_by_depth.png",
        "comparison.png",
        "speed_of_learning.png",
        "nielsen_training.png",
    ):
        assert (out / name).stat().st_size > 0
    assert "784-30-10" in capsys.readouterr().out


def test_divergence_is_one_line_exit_3_and_writes_nothing(script, fake_mnist, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["--data-dir", str(fake_mnist), "--images", "16", "--seeds", "2", "--hidden", "1"]
    argv += ["--comparison-hidden", "1", "--train", "--epochs", "4", "--eval-every", "2"]
    with pytest.raises(SystemExit) as exit_info:
        script.main([*argv, "--lr", "1e8", "--no-progress", "--out", str(out)])
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lower the learning rate" in err, err
    assert not (out / "results.json").exists()


def test_out_naming_a_file_is_refused_before_work(script, fake_mnist, tmp_path, capsys):
    taken = tmp_path / "file.txt"
    taken.write_text("keep")
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--data-dir", str(fake_mnist), "--images", "16", "--out", str(taken)])
    assert exit_info.value.code == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert taken.read_text() == "keep"
