"""Faults a run must survive or refuse cleanly: two writers, kill -9 while training and
while saving, a flipped byte in a checkpoint, divergence, and bad flags.

Kills are real SIGKILLs of a child process, sent by the child itself at a chosen point
(a patched function in a small driver), so the test does not race the clock. Small
sizes throughout: an MLP on a few hundred images.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn_jax import cli

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR")
MLP = ["--arch", "mlp", "--widths", "30,10", "--dropout", "0.3", "--limit", "600",
       "--test-limit", "500", "--batch-size", "20", "--no-progress"]  # fmt: skip

# Runs experiments/<script>.py as __main__ after applying PATCH (Python source, may be "").
DRIVER = """
import os, signal, sys, runpy, time
from pathlib import Path
script, patch, *args = sys.argv[1:]
exec(patch)
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
"""

KILL_IN_EPOCH_2 = """
import cnn_jax.training.train as train
_check = train.check_finite
def check_finite(epoch, cfg, **values):
    if epoch == 2:  # epoch 2's steps are done, its checkpoint not yet written
        os.kill(os.getpid(), signal.SIGKILL)
    return _check(epoch, cfg, **values)
train.check_finite = check_finite
"""

KILL_IN_SAVE_2 = """
import orbax.checkpoint as ocp
_save = ocp.JsonCheckpointHandler.async_save
async def async_save(self, directory, *a, **k):
    # The digest is the last item: checkpoint 2's state is on disk, not yet committed.
    if "digest" in str(directory) and "/2." in str(directory):
        os.kill(os.getpid(), signal.SIGKILL)
    return await _save(self, directory, *a, **k)
ocp.JsonCheckpointHandler.async_save = async_save
"""

WAIT_FOR_GO = """
import cnn_jax.training.run as run_lib
_train = run_lib.train_and_evaluate
def train_and_evaluate(*a, **k):  # the folder is held; wait for the test's go-ahead
    go = Path(os.environ["GO_FILE"])
    while not go.exists():
        time.sleep(0.05)
    return _train(*a, **k)
run_lib.train_and_evaluate = train_and_evaluate
"""


@pytest.fixture(autouse=True)
def _needs_data():
    if not DATA_DIR or not Path(DATA_DIR).is_dir():
        pytest.skip("CNN_JAX_DATA_DIR is not set to the MNIST folder")


def env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "CNN_JAX_DATA_DIR": DATA_DIR, **extra}


def start(script: str, args: list[str], patch: str = "", **extra) -> subprocess.Popen:
    path = str(ROOT / "experiments" / f"{script}.py")
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, path, patch, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out, err


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def same_numbers(a: dict, b: dict) -> None:
    for key in ("test_accuracies", "test_losses", "train_losses", "train_accuracies"):
        assert a[key] == b[key], key


@pytest.fixture(scope="module")
def mnist_cnn(load_script):
    return load_script("mnist_cnn")


@pytest.fixture(scope="module")
def straight(tmp_path_factory, mnist_cnn):
    """The uninterrupted 3-epoch run every interrupted one must equal."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert mnist_cnn.main([*MLP, "--epochs", "3", "--out", str(out)]) == 0
    return results(out)


# ----------------------------------------------------------------------------- writers


def test_second_writer_is_refused_and_the_first_finishes(tmp_path, straight):
    out, go = tmp_path / "run", tmp_path / "go"
    args = [*MLP, "--epochs", "3", "--out", str(out)]
    first = start("mnist_cnn", args, WAIT_FOR_GO, GO_FILE=str(go))
    deadline = time.monotonic() + 120
    while not (out / cli.LOCK_NAME).is_file() or not (out / cli.LOCK_NAME).read_text().strip():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "mnist_cnn.py"), *args, "--lr", "0.002"],
        capture_output=True,
        text=True,
        env=env(),
        timeout=300,
    )
    go.touch()
    code, _, err = finish(first)
    assert second.returncode == 2
    assert second.stderr.strip() == (
        f"mnist_cnn.py: error: {out} is in use by another run (pid {first.pid}); "
        "wait or pass another --out"
    )
    assert code == 0, err
    same_numbers(results(out), straight)


# ----------------------------------------------------------------------------- kill -9


@pytest.mark.parametrize("patch", [KILL_IN_EPOCH_2, KILL_IN_SAVE_2], ids=["training", "save"])
def test_kill_9_then_resume_equals_uninterrupted(patch, tmp_path, capsys, mnist_cnn, straight):
    out = tmp_path / "run"
    code, _, _ = finish(start("mnist_cnn", [*MLP, "--epochs", "3", "--out", str(out)], patch))
    assert code == -9
    assert not (out / "results.json").exists()
    assert mnist_cnn.main([*MLP, "--epochs", "3", "--out", str(out)]) == 0
    assert "resuming from the checkpoint after epoch 1" in capsys.readouterr().out
    same_numbers(results(out), straight)


def flip_bytes(step_dir: Path) -> None:
    files = list((step_dir / "state" / "ocdbt.process_0" / "d").iterdir())
    largest = max(files, key=lambda f: f.stat().st_size)
    data = bytearray(largest.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 4):
        data[i] ^= 0xFF
    largest.write_bytes(bytes(data))


def test_flipped_byte_falls_back_and_ends_equal(tmp_path, capsys, mnist_cnn, straight):
    out = tmp_path / "run"
    assert mnist_cnn.main([*MLP, "--epochs", "2", "--out", str(out)]) == 0
    flip_bytes(out / "checkpoints" / "2")
    capsys.readouterr()
    assert mnist_cnn.main([*MLP, "--epochs", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    # Where the flipped bytes land in Orbax's data file varies from save to save: in array
    # bytes (the digest catches them) or in what frames them (the read fails). Either way
    # the checkpoint is refused, and the run resumes from the one before.
    assert re.search(
        r"checkpoint after epoch 2 is corrupt \((digest mismatch|its arrays cannot be read)\); "
        r"resuming from epoch 1",
        printed.out,
    ), printed.out
    assert printed.err == ""
    same_numbers(results(out), straight)


# ----------------------------------------------------------------------------- divergence


def no_nan_or_infinity(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".json", "") and path.name != cli.LOCK_NAME:
            text = path.read_text(errors="replace")
            assert "NaN" not in text and "Infinity" not in text, path


def test_divergence_is_one_line_exit_3_and_writes_no_nan(tmp_path):
    out = tmp_path / "run"
    args = [*MLP, "--optimizer", "sgd", "--lr", "1e12", "--epochs", "2", "--out", str(out)]
    code, _, err = finish(start("mnist_cnn", args))
    assert code == 3
    assert err.strip() == (
        "mnist_cnn.py: diverged: epoch 1 of mlp/lr=1e+12: non-finite loss; lower the learning rate"
    )
    assert not (out / "results.json").exists()
    assert not list((out / "checkpoints").iterdir())  # nothing non-finite saved
    no_nan_or_infinity(out)


# ----------------------------------------------------------------------------- bad flags


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, mnist_cnn):
    out = tmp_path_factory.mktemp("saved") / "run"
    assert mnist_cnn.main([*MLP, "--epochs", "1", "--out", str(out)]) == 0
    return out


SMALL = ["--limit", "300", "--test-limit", "200", "--batch-size", "50", "--arch", "mlp"]
# (script, argv, message); OUT, FILE and RUN are filled in per test.
BAD_FLAGS = [
    ("mnist_cnn", ["--lr", "inf"], "argument --lr: must be a finite number > 0, got inf"),
    ("mnist_cnn", ["--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    ("mnist_cnn", ["--lr", "0"], "argument --lr: must be a finite number > 0"),
    ("mnist_cnn", ["--lr", "-1"], "argument --lr: must be a finite number > 0"),
    ("mnist_cnn", ["--seed", "99999999999999999999999"], "argument --seed: must be in [0, 2**32)"),
    ("mnist_cnn", ["--momentum", "1.5"], "argument --momentum: must be in [0, 1)"),
    ("mnist_cnn", ["--widths", "30,5"], "the MLP's last width is its 10 outputs"),
    ("mnist_cnn", ["--micro-batch", "7"], "micro batch must divide the batch size 50"),
    ("mnist_cnn", ["--batch-size", "5000", "--limit", "1000"],
     "--batch-size 5000 is more than the 1,000 training images used (--limit)"),
    ("mnist_cnn", ["--limit", "10", "--batch-size", "128"],
     "--batch-size 128 is more than the 10 training images used"),
    ("mnist_cnn", ["--limit", "70000"], "--limit 70000 is more than the 60,000 training images"),
    ("mnist_cnn", ["--test-limit", "20000"], "--test-limit 20000 is more than the 10,000 test"),
    ("mnist_cnn", ["--data-dir", "FILE"], "data folder FILE is not a folder"),
    ("mnist_cnn", ["--data-dir", "OUT/none"], "data folder OUT/none does not exist"),
    ("mnist_cnn", ["--out", "FILE"], "--out FILE exists and is not a folder"),
    ("mnist_cnn", ["--out", "/proc/nope"], "--out /proc/nope is not writable"),
    ("dropout_gap", ["RUN", "--test-limit", "20000"], "--test-limit 20000 is more than"),
    ("dropout_gap", ["RUN", "--train-limit", "700"],
     "--train-limit 700 is more than the 600 training images the run trained on"),
    ("dropout_gap", ["OUT/none"], "checkpoint folder OUT/none does not exist"),
    ("dropout_gap", ["FILE"], "checkpoint folder FILE is not a folder"),
    ("dropout_gap", ["RUN", "--data-dir", "FILE"], "data folder FILE is not a folder"),
    ("dropout_gap", ["RUN", "--out", "/proc/nope"], "--out /proc/nope is not writable"),
    ("visualize_layers", ["--checkpoint", "FILE"], "checkpoint folder FILE is not a folder"),
    ("visualize_layers", ["--checkpoint", "RUN", "--epoch", "0"], "argument --epoch: must be"),
    ("visualize_layers", ["--checkpoint", "RUN", "--epoch", "4"], "has no checkpoint of epoch 4"),
    ("visualize_layers", ["--checkpoint", "RUN", "--index", "10000"], "--index 10000 is out"),
    ("visualize_layers", ["--checkpoint", "RUN", "--stats-images", "20000"],
     "--stats-images 20000 is more than the 10,000 test images"),
    ("visualize_layers", ["--checkpoint", "RUN", "--out", "/proc/nope"],
     "--out /proc/nope is not writable"),
    ("visualize_layers", ["--checkpoint", "RUN", "--out", "FILE"], "exists and is not a folder"),
    ("benchmark", ["--batch-size", "70000"], "--batch-size 70000 is more than the 60,000"),
    ("benchmark", ["--archs", "vgg"], "--archs takes names from seed, deep, study_deep"),
    ("benchmark", ["--micro-batch", "5"], "--micro-batch 5 must divide --batch-size 128"),
    ("benchmark", ["--steps", "0"], "argument --steps: must be >= 1"),
    ("benchmark", ["--out", "/proc/nope"], "--out /proc/nope is not writable"),
]  # fmt: skip


@pytest.mark.parametrize(
    "script, argv, message", BAD_FLAGS, ids=[f"{s}:{' '.join(a)}" for s, a, _ in BAD_FLAGS]
)
def test_bad_flag_is_one_line_exit_2_and_writes_nothing(
    script, argv, message, tmp_path, capsys, load_script, saved_run
):
    file = tmp_path / "a_file"
    file.write_text("not a folder")
    out = tmp_path / "out"

    def fill(text: str) -> str:
        return (
            text.replace("OUT", str(out)).replace("FILE", str(file)).replace("RUN", str(saved_run))
        )

    argv = [fill(a) for a in argv]
    if "--out" not in argv:
        argv += ["--out", str(out)]
    if script == "mnist_cnn":
        argv = [*SMALL, *argv]
    before = sorted(p.name for p in saved_run.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        load_script(script).main([*argv, "--no-progress"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert fill(message) in err, err
    assert not out.exists()
    assert file.read_text() == "not a folder"
    assert sorted(p.name for p in saved_run.rglob("*")) == before
