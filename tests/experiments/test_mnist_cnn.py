"""The experiment script end to end, on small slices of real MNIST."""

import json
from pathlib import Path

import pytest

from cnn_jax.training.config import TrainConfig
from cnn_jax.training.run import default_out_dir


@pytest.fixture(scope="module")
def mnist_cnn(load_script):
    return load_script("mnist_cnn")


ROOT = Path(__file__).resolve().parents[2]


def run_main(argv, capsys, mnist_cnn):
    code = mnist_cnn.main(argv)
    return code, capsys.readouterr()


def test_smoke_seed_cnn_on_real_images(mnist, tmp_path, capsys, mnist_cnn):
    del mnist  # only for the skip when the data is missing
    out = tmp_path / "run"
    argv = ["--limit", "2000", "--test-limit", "1000", "--epochs", "1", "--batch-size", "32"]
    code, _ = run_main([*argv, "--out", str(out), "--no-progress"], capsys, mnist_cnn)
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert 0.85 < results["test_accuracy"] <= 1.0
    assert results["test_accuracies"] == [results["test_accuracy"]]
    assert results["epochs"] == 1 and len(results["seconds_per_epoch"]) == 1
    assert results["param_count"] == 90_390
    assert results["config"]["arch"] == "seed" and "jax" in results["provenance"]["versions"]
    assert (out / "curves.png").stat().st_size > 0
    assert (out / "checkpoints" / "1").is_dir()
    # A finished run is not retrained.
    code, printed = run_main([*argv, "--out", str(out)], capsys, mnist_cnn)
    assert code == 0 and "already finished" in printed.out


def test_resume_equals_uninterrupted(mnist, tmp_path, capsys, mnist_cnn):
    del mnist
    common = [
        "--arch",
        "mlp",
        "--widths",
        "30,10",
        "--dropout",
        "0.3",
        "--limit",
        "600",
        "--test-limit",
        "500",
        "--batch-size",
        "20",
        "--no-progress",
    ]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert run_main(common + ["--epochs", "3", "--out", str(straight)], capsys, mnist_cnn)[0] == 0
    assert run_main(common + ["--epochs", "1", "--out", str(resumed)], capsys, mnist_cnn)[0] == 0
    code, printed = run_main(common + ["--epochs", "3", "--out", str(resumed)], capsys, mnist_cnn)
    assert code == 0 and "resuming from the checkpoint after epoch 1" in printed.out
    a = json.loads((straight / "results.json").read_text())
    b = json.loads((resumed / "results.json").read_text())
    assert a["test_accuracies"] == b["test_accuracies"]
    assert a["train_losses"] == b["train_losses"]
    assert a["epochs"] == b["epochs"] == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "-1"], "argument --epochs: must be >= 1"),
        (["--dropout", "1.5"], "argument --dropout: must be in [0, 1)"),
        (["--arch", "vgg"], "invalid choice"),
        (["--data-dir", "/nonexistent/mnist"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, mnist_cnn):
    with pytest.raises(SystemExit) as exit_info:
        mnist_cnn.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_config_mismatch_in_out_dir_is_refused(tmp_path, capsys, mnist, mnist_cnn):
    del mnist
    out = str(tmp_path / "r")
    base = [
        "--arch",
        "mlp",
        "--limit",
        "100",
        "--test-limit",
        "100",
        "--batch-size",
        "50",
        "--no-progress",
        "--out",
        out,
        "--epochs",
        "1",
    ]
    assert run_main(base, capsys, mnist_cnn)[0] == 0
    with pytest.raises(SystemExit) as exit_info:
        mnist_cnn.main(base[:-1] + ["2", "--lr", "0.01"])
    assert exit_info.value.code == 2 and "different config: lr=0.001" in capsys.readouterr().err


def test_unreadable_checkpoint_is_refused_in_one_line(tmp_path, capsys, mnist, mnist_cnn):
    del mnist
    out = tmp_path / "r"
    argv = ["--arch", "mlp", "--limit", "100", "--test-limit", "100", "--batch-size", "50",
            "--no-progress", "--out", str(out), "--epochs"]  # fmt: skip
    assert run_main([*argv, "1"], capsys, mnist_cnn)[0] == 0
    (out / "checkpoints" / "1" / "config" / "metadata").write_text("{not json")
    with pytest.raises(SystemExit) as exit_info:
        mnist_cnn.main([*argv, "2"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "cannot resume" in err and "is corrupt" in err
    assert len(err.strip().splitlines()) == 1


def test_help_names_every_flag(help_text, mnist_cnn):
    text = help_text(mnist_cnn.main)
    for flag in (
        "--arch",
        "--dropout",
        "--epochs",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--l2",
        "--seed",
        "--data-dir",
        "--out",
        "--limit",
    ):
        assert flag in text


def test_default_out_dir_names_changed_flags():
    assert default_out_dir(TrainConfig()) == Path("runs/mnist_cnn/seed")
    assert default_out_dir(TrainConfig(epochs=3, dropout=0.5)) == Path(
        "runs/mnist_cnn/seed-dropout0.5"
    )


def test_finished_run_on_other_data_is_refused(tmp_path, capsys, mnist, mnist_cnn):
    """Another --data-dir is another run: not silently 'already finished'."""
    other = tmp_path / "other_mnist"
    other.mkdir()
    for f in Path(mnist.source.removeprefix("idx:")).resolve().glob("*-ubyte*"):
        (other / f.name).symlink_to(f)
    out = tmp_path / "r"
    argv = ["--arch", "mlp", "--limit", "100", "--test-limit", "100", "--batch-size", "50",
            "--no-progress", "--out", str(out), "--epochs", "1"]  # fmt: skip
    assert run_main(argv, capsys, mnist_cnn)[0] == 0
    for epochs in ("1", "2"):  # finished, and resuming from its checkpoint
        with pytest.raises(SystemExit) as exit_info:
            mnist_cnn.main([*argv[:-1], epochs, "--data-dir", str(other)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and f"trained on {mnist.source} (now idx:{other})" in err
        assert len(err.strip().splitlines()) == 1


def test_a_run_stuck_near_chance_warns_in_one_line(tmp_path, capsys, mnist, mnist_cnn):
    del mnist
    argv = ["--arch", "mlp", "--widths", "30,10", "--activation", "sigmoid", "--optimizer",
            "sgd", "--lr", "1e4", "--limit", "300", "--test-limit", "200", "--batch-size", "20",
            "--epochs", "1", "--no-progress", "--out", str(tmp_path / "r")]  # fmt: skip
    code, printed = run_main(argv, capsys, mnist_cnn)
    assert code == 0
    warnings = [line for line in printed.out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "near chance" in warnings[0]
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["train_images"] == 300 and results["test_images"] == 200
