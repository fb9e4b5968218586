"""The persistent compilation cache: on by default in the user's cache folder, off when
asked, and never the reason a run fails (a corrupt entry, a folder that cannot be written).
Subprocesses: JAX reads its cache settings once per process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_jax import compile_cache

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "experiments" / "mnist_cnn.py")
TINY = ["--arch", "mlp", "--widths", "30,10", "--epochs", "1", "--batch-size", "32",
        "--limit", "128", "--test-limit", "100", "--no-progress"]  # fmt: skip
WARNING = "warning: compile cache:"
needs_mnist = pytest.mark.skipif(
    not os.environ.get("CNN_JAX_DATA_DIR"), reason="CNN_JAX_DATA_DIR is not set"
)


def run_script(out: Path, **env) -> subprocess.CompletedProcess:
    """experiments/mnist_cnn.py, tiny, with ``env`` added to this process's environment (a
    value of None removes the variable)."""
    child = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    child = {k: v for k, v in child.items() if v is not None}
    p = subprocess.run([sys.executable, SCRIPT, *TINY, "--out", str(out)], env=child,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    return p


def numbers(out: Path) -> dict:
    """The losses and accuracies of a run's results.json."""
    results = json.loads((out / "results.json").read_text())
    return {k: results[k] for k in ("train_losses", "train_accuracies", "test_losses",
                                    "test_accuracies")}  # fmt: skip


def entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "user/xla"), ("", "user/xla"), ("1", "user/xla"), ("0", None), ("off", None),
     ("OFF", None), ("false", None), ("elsewhere", "elsewhere")],
)  # fmt: skip
def test_the_variable_chooses_the_folder(value, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_JAX_CACHE_DIR", str(tmp_path / "user"))
    if value is None:
        monkeypatch.delenv(compile_cache.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(compile_cache.ENV_VAR, value.replace("elsewhere", str(tmp_path / "e")))
    expected = expected and tmp_path / expected.replace("elsewhere", "e")
    assert compile_cache.folder() == expected


@needs_mnist
def test_on_by_default_beside_the_mnist_cache_and_off_when_asked(tmp_path):
    on = run_script(tmp_path / "on", CNN_JAX_CACHE_DIR=str(tmp_path / "user"),
                    CNN_JAX_COMPILE_CACHE=None)  # fmt: skip
    assert entries(tmp_path / "user" / "xla"), "a script's run writes its compiled programs"
    off = run_script(tmp_path / "off", CNN_JAX_CACHE_DIR=str(tmp_path / "user2"),
                     CNN_JAX_COMPILE_CACHE="0")  # fmt: skip
    assert not entries(tmp_path / "user2" / "xla")
    assert WARNING not in on.stderr + off.stderr
    assert numbers(tmp_path / "on") == numbers(tmp_path / "off")


@needs_mnist
def test_a_corrupt_cache_is_compiled_afresh_with_one_warning_line(tmp_path):
    cache = tmp_path / "xla"
    run_script(tmp_path / "first", CNN_JAX_COMPILE_CACHE=str(cache))
    files = entries(cache)
    assert files
    for f in files:
        f.write_bytes(b"not a compiled program\n" * 8)
    p = run_script(tmp_path / "second", CNN_JAX_COMPILE_CACHE=str(cache))
    warnings = [line for line in p.stderr.splitlines() if "compile" in line.lower()]
    assert len(warnings) == 1 and warnings[0].startswith(WARNING), p.stderr[-2000:]
    assert numbers(tmp_path / "second") == numbers(tmp_path / "first")


@needs_mnist
def test_a_cache_folder_that_cannot_be_written_is_skipped_with_one_line(tmp_path):
    blocked = tmp_path / "a-file"  # a file where the folder should be: mkdir fails, even as root
    blocked.write_text("")
    p = run_script(tmp_path / "run", CNN_JAX_COMPILE_CACHE=str(blocked / "xla"))
    warnings = [line for line in p.stderr.splitlines() if "compile" in line.lower()]
    assert warnings == [f"{WARNING} {blocked / 'xla'} is not writable (Not a directory); "
                        "compiling every program"]  # fmt: skip
    assert (tmp_path / "run" / "results.json").exists()
