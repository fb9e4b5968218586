"""Ctrl-C: one line naming where a rerun continues, exit 130, and the state on disk that a
kill -9 at the same moment would leave, from which the rerun ends with the numbers of an
uninterrupted run.

The SIGINT is real, sent by the child process to itself right after a chosen save (a patched
function in a small driver), so the test does not race the clock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR")
MLP = ["--arch", "mlp", "--widths", "30,10", "--limit", "600", "--test-limit", "500",
       "--batch-size", "20", "--no-progress", "--epochs", "3"]  # fmt: skip
INIT = [
    "--no-table", "--init-width", "64", "--init-hidden", "2", "--init-seeds", "2",
    "--init-images", "8", "--jacobian-examples", "2", "--networks", "tanh,tanh N",
    "--curve-networks", "tanh", "--curve-width", "16", "--curve-hidden", "2",
    "--record-every", "100", "--probe-images", "50", "--train-images", "1000",
]  # fmt: skip

DRIVER = """
import os, signal, sys, runpy
script, patch, *args = sys.argv[1:]
exec(patch)
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
"""

# Ctrl-C right after the checkpoint after epoch 1 is complete.
SIGINT_AFTER_CHECKPOINT_1 = """
from cnn_jax.training import checkpoint
_save = checkpoint.RunCheckpoints.save
def save(self, step, *a, **k):
    _save(self, step, *a, **k)
    if step == 1:
        os.kill(os.getpid(), signal.SIGINT)
checkpoint.RunCheckpoints.save = save
"""

# Ctrl-C right after the first row is saved.
SIGINT_AFTER_ROW_1 = """
from cnn_jax.training import rows
_put = rows.RowStore.put
def put(self, *a, **k):
    _put(self, *a, **k)
    if len(self.done) == 1:
        os.kill(os.getpid(), signal.SIGINT)
rows.RowStore.put = put
"""


@pytest.fixture(autouse=True)
def _needs_data():
    if not DATA_DIR or not Path(DATA_DIR).is_dir():
        pytest.skip("CNN_JAX_DATA_DIR is not set to the MNIST folder")


def run(script: str, args: list[str], patch: str = "") -> subprocess.CompletedProcess:
    path = str(ROOT / "experiments" / f"{script}.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CNN_JAX_DATA_DIR": DATA_DIR}
    return subprocess.run(
        [sys.executable, "-c", DRIVER, path, patch, *args],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


def test_ctrl_c_in_training_is_one_line_exit_130_and_the_rerun_continues(tmp_path):
    straight = run("mnist_cnn", [*MLP, "--out", str(tmp_path / "straight")])
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "run"
    stopped = run("mnist_cnn", [*MLP, "--out", str(out)], SIGINT_AFTER_CHECKPOINT_1)
    assert stopped.returncode == 130, stopped.stderr
    assert "Traceback" not in stopped.stderr and "KeyboardInterrupt" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        "mnist_cnn.py: interrupted; rerun the same command to continue from epoch 2"
    )
    assert not (out / "results.json").exists()
    again = run("mnist_cnn", [*MLP, "--out", str(out)])
    assert again.returncode == 0, again.stderr
    assert "resuming from the checkpoint after epoch 1" in again.stdout + again.stderr
    a, b = (json.loads((d / "results.json").read_text()) for d in (tmp_path / "straight", out))
    for key in ("test_accuracies", "test_losses", "train_losses", "train_accuracies"):
        assert a[key] == b[key], key


def test_ctrl_c_between_rows_names_the_row_and_the_rerun_says_it_continues(tmp_path):
    out = tmp_path / "init"
    stopped = run("initialization", [*INIT, "--out", str(out)], SIGINT_AFTER_ROW_1)
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        "initialization.py: interrupted; rerun the same command to continue from row 2 of 3"
    )
    again = run("initialization", [*INIT, "--out", str(out)])
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines()[0] == "continuing: 1 of 3 rows saved"
    assert "3 of 3 rows saved" in again.stderr
    assert json.loads((out / "results.json").read_text())["init"].keys() == {"tanh", "tanh N"}


def test_sigint_handler_is_only_installed_while_a_script_runs():
    from cnn_jax import cli

    before = signal.getsignal(signal.SIGINT)
    assert cli.one_line_errors(lambda argv: 0)([]) == 0
    assert signal.getsignal(signal.SIGINT) is before
