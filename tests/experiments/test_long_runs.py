"""The initialization and pretraining scripts survive kill -9 and divergence: a killed run,
rerun, ends with the numbers of an uninterrupted one; a diverging stage exits 3 with one
line naming it and its flag and leaves no NaN on disk; another config in the same --out is
refused."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR", "")

INIT = [
    "--width", "8", "--hidden", "2", "--epochs", "2", "--lrs", "0.1",
    "--train-images", "500", "--networks", "tanh N", "--init-width", "32",
    "--init-hidden", "2", "--init-seeds", "2", "--init-images", "8",
    "--jacobian-examples", "2", "--curve-width", "16", "--curve-hidden", "2",
    "--record-every", "25", "--probe-images", "50", "--curve-networks", "sigmoid",
    "--no-progress",
]  # fmt: skip
PRETRAIN = [
    "--hidden", "8", "--images", "100", "--seeds", "2", "--epochs", "2",
    "--pretrain-epochs", "1", "--grad-images", "50", "--filters", "4", "--no-progress",
]  # fmt: skip
TIMING_KEYS = {"timings", "provenance", "args", "seconds"}


def _numbers(value):
    """``value`` without wall times, provenance and the command's flags (--out differs)."""
    if isinstance(value, dict):
        return {
            k: _numbers(v)
            for k, v in value.items()
            if k not in TIMING_KEYS and not k.endswith("_s")
        }
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _results(out: Path) -> dict:
    return _numbers(json.loads((out / "results.json").read_text()))


def _run(script, argv, out: Path) -> int:
    return script.main([*argv, "--data-dir", DATA_DIR, "--out", str(out)])


@pytest.fixture(scope="module")
def uninterrupted(load_script, mnist, tmp_path_factory):
    """``uninterrupted(name)``: the output folder of an uninterrupted run of that script's
    tiny config, made on first use, so a worker makes only the runs its tests read."""

    @functools.cache
    def run(name: str) -> Path:
        out = tmp_path_factory.mktemp(name) / "out"
        argv = {"initialization": INIT, "pretraining": PRETRAIN}[name]
        assert _run(load_script(name), argv, out) == 0
        return out

    return run


def _rows_done(out: Path) -> int:
    """How many rows progress.json counts as saved (0 while it is absent or being replaced)."""
    try:
        return len(json.loads((out / "progress.json").read_text())["done"])
    except (OSError, ValueError, KeyError):
        return 0


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 300.0) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before it could be killed")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("nothing was saved in time")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize(
    "name,argv,saved",
    [
        # Killed once progress.json counts its first saved row (the row file is written just
        # before it, so waiting for the file alone could kill in between): the rerun
        # computes the others.
        ("initialization", INIT, lambda out: _rows_done(out) > 0),
        # Killed during fine-tuning, once an epoch's checkpoint exists.
        ("pretraining", PRETRAIN, lambda out: any((out / "checkpoints").glob("*/grid/1"))),
    ],
)
def test_kill_9_then_rerun_gives_the_uninterrupted_numbers(
    load_script, uninterrupted, tmp_path, name, argv, saved
):
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "experiments" / f"{name}.py"), *argv]
    proc = subprocess.Popen(
        [*command, "--data-dir", DATA_DIR, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _kill_when(proc, lambda: saved(out))
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists()
    progress = json.loads((out / "progress.json").read_text())
    assert progress["partial"] is True and 0 < len(progress["done"]) < progress["total"]

    assert _run(load_script(name), argv, out) == 0
    assert json.loads((out / "progress.json").read_text())["partial"] is False
    assert _results(out) == _results(uninterrupted(name))


@pytest.mark.parametrize("name,argv", [("initialization", INIT), ("pretraining", PRETRAIN)])
def test_a_rerun_reads_the_rows_back(load_script, uninterrupted, tmp_path, name, argv):
    """Every row saved: the rerun trains nothing and writes the same numbers."""
    out = tmp_path / "out"
    src = uninterrupted(name)
    for path in (*src.glob("rows/*"), src / "progress.json"):
        target = out / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert _run(load_script(name), argv, out) == 0
    assert _results(out) == _results(src)


@pytest.mark.parametrize(
    "name,argv",
    [("initialization", [*INIT, "--epochs", "3"]), ("pretraining", [*PRETRAIN, "--lrs", "0.2"])],
)
def test_another_config_in_the_same_out_is_refused(load_script, uninterrupted, capsys, name, argv):
    out = uninterrupted(name)
    before = (out / "results.json").read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        _run(load_script(name), argv, out)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and err.count("\n") == 1, err
    assert (out / "results.json").read_bytes() == before


def _nothing_non_finite(out: Path) -> None:
    for path in out.rglob("*"):
        if path.suffix == ".json":
            text = path.read_text()
            assert "NaN" not in text and "Infinity" not in text, path
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as saved:
                assert all(np.isfinite(saved[k]).all() for k in saved.files), path


@pytest.mark.parametrize(
    "name,argv,words",
    [
        ("pretraining", [*PRETRAIN, "--rbm-lr", "1e9"], ("RBM pretraining", "--rbm-lr")),
        ("pretraining", [*PRETRAIN, "--ae-lr", "1e9"], ("autoencoder pretraining", "--ae-lr")),
        (
            "pretraining",
            [*PRETRAIN, "--supervised-lr", "1e9"],
            ("supervised greedy pretraining", "--supervised-lr"),
        ),
        # tanh and sigmoid stay finite at any rate (bounded units); ReLU's overflow.
        (
            "initialization",
            [*INIT, "--networks", "relu He", "--lrs", "1e9"],
            ("Table 1 relu He", "--lrs"),
        ),
    ],
)
def test_a_diverging_stage_exits_3_naming_it_and_saves_no_nan(
    load_script, mnist, tmp_path, capsys, name, argv, words
):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        _run(load_script(name), argv, out)
    assert exit_info.value.code == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(word in err for word in words), err
    assert not (out / "results.json").exists()
    _nothing_non_finite(out)
