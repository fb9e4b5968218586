"""One smoke run of the whole study (experiments/reproduce.py --scale smoke), shared by the
tests of this folder: it is the CI run of reproduce.py."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "reproduce.py"


def reproduce(*argv, timeout=3600, **kwargs):
    """experiments/reproduce.py in a subprocess (it runs its scripts as subprocesses)."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        **kwargs,
    )


@pytest.fixture(scope="session")
def run_reproduce():
    """``run_reproduce(*argv)`` -> the finished process of experiments/reproduce.py."""
    return reproduce


@pytest.fixture(scope="session")
def smoke(tmp_path_factory):
    """(output folder, finished process) of the whole study at smoke scale."""
    data = os.environ.get("CNN_JAX_DATA_DIR")
    if not data or not Path(data).is_dir():
        pytest.skip("CNN_JAX_DATA_DIR is not set to the MNIST folder")
    # $CNN_JAX_SMOKE_OUT: an earlier smoke run's folder to finish and reuse (its finished
    # runs are skipped), for working on these tests; unset, a fresh run.
    reuse = os.environ.get("CNN_JAX_SMOKE_OUT")
    out = Path(reuse) if reuse else tmp_path_factory.mktemp("reproduce") / "out"
    done = reproduce("--scale", "smoke", "--out", out)
    return out, done
