"""Every rejected input of the MLP-study scripts: one line on stderr, exit 2, nothing
written, and found before any work (each case would otherwise train or fail late)."""

import pytest

DATA = "@data"  # replaced by the MNIST folder
CASES = {
    "vanishing_gradient": [
        (["--train", "--lr", "inf"], "--lr: must be a finite number > 0"),
        (["--train", "--lr", "-1"], "--lr: must be a finite number > 0"),
        (["--train", "--lam", "nan"], "--lam: must be a finite number >= 0"),
        (["--seed", "99999999999999999999999"], "--seed: must be in [0, 2**32)"),
        (["--seeds", "0"], "must be >= 1"),
        (["--data-dir", DATA, "--images", "60001"], "more than the 60,000 training images"),
        (["--data-dir", "/proc/version"], "is not a folder"),
        (["--data-dir", DATA, "--images", "8", "--out", "/proc/nope"], "is not writable"),
    ],
    "regularization": [
        (["--lr", "nan"], "--lr: must be a finite number > 0"),
        (["--lr", "0"], "--lr: must be a finite number > 0"),
        (["--overfit-lambda", "-5"], "--overfit-lambda: must be a finite number >= 0"),
        (["--dropout-rate", "1"], "--dropout-rate: must be in [0, 1)"),
        (["--data-dir", DATA, "--full-images", "70000"], "more than the 60,000 training"),
        (["--data-dir", DATA, "--test-images", "10001"], "more than the 10,000 test images"),
        (
            ["--data-dir", DATA, "--overfit-images", "5", "--skip-full"],
            "--batch-size 10 is more than the 5 images of the overfit study",
        ),
    ],
    "cost_functions": [
        (["--data-dir", DATA, "--batch-size", "5000", "--images", "1000"], "--batch-size 5000"),
        (["--data-dir", DATA, "--images", "60001"], "more than the 60,000 training images"),
        (["--hidden", "30,x"], "comma-separated integers"),
        (["--seed", "-1"], "--seed: must be in [0, 2**32)"),
    ],
    "keras_mlp": [
        (["--lr", "nan"], "--lr: must be a finite number > 0"),
        (["--batch-size", "300", "--points", "256"], "--batch-size 300 is more than"),
        (["--seed", "1e3"], "--seed: expected int"),
    ],
    "depth_efficiency": [
        (["--lr", "inf"], "--lr: must be a finite number > 0"),
        (["--seed", "4294967296"], "--seed: must be in [0, 2**32)"),
    ],
}


@pytest.mark.parametrize(
    "script_name, argv, message",
    [(name, argv, message) for name, cases in CASES.items() for argv, message in cases],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    script_name, argv, message, load_script, tmp_path, capsys, mnist
):
    argv = [mnist.source.removeprefix("idx:") if a == DATA else a for a in argv]
    out = tmp_path / "out"
    if "--out" not in argv:
        argv = [*argv, "--out", str(out)]
    with pytest.raises(SystemExit) as exit_info:
        load_script(script_name).main(
            [*argv, "--no-progress"]
            if script_name not in ("keras_mlp", "depth_efficiency")
            else argv
        )
    captured = capsys.readouterr()
    assert exit_info.value.code == 2
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    assert message in captured.err, captured.err
    assert not out.exists()
