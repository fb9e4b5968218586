"""More devices, more hosts: 8 simulated CPU devices against 1, and 2 real processes over
127.0.0.1 (gloo collectives) against 1, on real MNIST. Subprocesses: the device count and
the distributed runtime are fixed when JAX starts."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("devices_worker.py")
# Simulated devices: N CPU devices of one process (see devices.pace for why loops wait).
EIGHT = "--xla_force_host_platform_device_count=8"
# float32 reductions in another order (per-device sums, then one all-reduce): measured
# differences were below 2e-7 absolute.
RTOL, ATOL = 1e-5, 1e-6
# An MLP: the processes compile in seconds (the seed CNN's numbers over 8 devices are
# checked by devices_worker.py).
TINY = ["--arch", "mlp", "--widths", "30,10", "--batch-size", "32", "--limit", "256",
        "--test-limit", "100", "--eval-batch-size", "50", "--no-progress"]  # fmt: skip


def env(XLA_FLAGS="", **extra) -> dict:
    """This environment without JAX's settings, with ``XLA_FLAGS`` plus the suite's
    optimization level (tests/conftest.py)."""
    e = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS" and not k.startswith("JAX_")}
    level = [f for f in os.environ.get("XLA_FLAGS", "").split() if "optimization_level" in f]
    flags = " ".join([*level, XLA_FLAGS]).strip()
    return {**e, "PYTHONPATH": str(ROOT), "XLA_FLAGS": flags, **extra}


def flat(x) -> list[float]:
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in flat(x[k])]
    if isinstance(x, list):
        return [v for item in x for v in flat(item)]
    return [float(x)]


def test_eight_devices_give_the_numbers_of_one():
    procs = [
        subprocess.Popen([sys.executable, str(WORKER)], env=env(XLA_FLAGS=flags),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for flags in (EIGHT, "")
    ]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    eight, one = (json.loads(out) for out, _ in outs)
    assert (eight["device_count"], one["device_count"]) == (8, 1)
    for part in ("seed", "mlp-dropout", "init_sweep", "run_sweep"):
        np.testing.assert_allclose(flat(eight[part]), flat(one[part]), rtol=RTOL, atol=ATOL)
    # training did move the weights: the comparison is not of two untouched inits
    losses = np.array(one["seed"]["history"])[:, 1]
    assert losses[1] < losses[0]


def test_a_batch_that_does_not_split_over_the_devices_is_refused(tmp_path):
    out = tmp_path / "run"
    args = [*TINY, "--batch-size", "30", "--out", str(out)]
    script = str(ROOT / "experiments/mnist_cnn.py")
    p = subprocess.run([sys.executable, script, *args], env=env(XLA_FLAGS=EIGHT),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip().splitlines() == [
        "mnist_cnn.py: error: --batch-size 30 is not divisible by the 8 devices; pick a "
        "multiple of 8 or pass --devices"
    ]
    assert not out.exists()


# The default batch of 128, and more steps (40, two computations each: gather, step) and
# evaluation batches (100) than XLA's CPU client lets one device queue unfinished: the loops
# must wait for their steps (devices.pace), or the first all-reduce past the queue stops.
AHEAD = ["--arch", "mlp", "--widths", "1000,10", "--epochs", "1", "--limit", str(40 * 128),
         "--test-limit", "1000", "--eval-batch-size", "10", "--no-progress"]  # fmt: skip


def test_simulated_devices_at_the_default_batch_train_like_one(tmp_path):
    script = str(ROOT / "experiments/mnist_cnn.py")
    results = {}
    for n in (1, 2, 8):
        out = tmp_path / str(n)
        flags = f"--xla_force_host_platform_device_count={n}"
        p = subprocess.run([sys.executable, script, *AHEAD, "--out", str(out)],
                           env=env(XLA_FLAGS=flags), capture_output=True, text=True,
                           timeout=300)  # fmt: skip
        assert p.returncode == 0, p.stderr[-2000:]
        results[n] = json.loads((out / "results.json").read_text())
        assert results[n]["devices"] == n
    for n in (2, 8):
        for key in ("train_losses", "train_accuracies", "test_losses", "test_accuracies"):
            np.testing.assert_allclose(results[n][key], results[1][key], rtol=RTOL, atol=ATOL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(out: Path, epochs: int) -> list[str]:
    """experiments/mnist_cnn.py as 2 processes on 127.0.0.1; their stdouts."""
    port = free_port()
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "experiments/mnist_cnn.py"), *TINY, "--epochs",
             str(epochs), "--out", str(out), "--coordinator", f"127.0.0.1:{port}",
             "--num-processes", "2", "--process-id", str(i)],
            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-2000:]
    return [o for o, _ in outs]


def test_two_processes_train_like_one_and_resume(tmp_path, load_script):
    mnist_cnn = load_script("mnist_cnn")
    two, one = tmp_path / "two", tmp_path / "one"
    first, _ = two_processes(two, epochs=1)
    assert "on 2 devices" in first
    resumed, other = two_processes(two, epochs=2)  # a new pair picks up the checkpoint
    assert "resuming from the checkpoint after epoch 1" in resumed
    assert "epoch" not in other and "test accuracy" not in other  # only process 0 speaks
    assert mnist_cnn.main([*TINY, "--epochs", "2", "--out", str(one)]) == 0
    a, b = (json.loads((d / "results.json").read_text()) for d in (two, one))
    assert (a["processes"], a["devices"], b["devices"]) == (2, 2, 1)
    for key in ("test_losses", "test_accuracies", "train_losses"):
        np.testing.assert_allclose(a[key], b[key], rtol=RTOL, atol=ATOL)
    assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["1", "2"]


@pytest.mark.parametrize(
    "argv, variables, message",
    [
        (["--devices", "2"], {}, "--devices 2: only 1 cpu device(s) visible"),
        (["--num-processes", "2"], {},
         "several processes need --coordinator, --process-id as well"),
        (["--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"], {},
         "--process-id 2 must be below --num-processes 2"),
        (["--coordinator", "localhost", "--num-processes", "2", "--process-id", "0"], {},
         "--coordinator 'localhost' must be HOST:PORT"),
        ([], {"JAX_NUM_PROCESSES": "two", "JAX_COORDINATOR_ADDRESS": "127.0.0.1:1"},
         "$JAX_NUM_PROCESSES='two' is not a valid value"),
    ],
)  # fmt: skip
def test_bad_device_flags(argv, variables, message, tmp_path, monkeypatch, capsys, load_script):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        load_script("mnist_cnn").main([*TINY, *argv, "--out", str(out)])
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == f"mnist_cnn.py: error: {message}"
    assert not out.exists()
