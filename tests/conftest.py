"""Strict and fast: rank promotion raises, warnings are errors (pyproject), CPU only."""

import functools
import importlib.util
import os
from pathlib import Path

import jax
import pytest

from cnn_jax import compile_cache

jax.config.update("jax_numpy_rank_promotion", "raise")

DATA_DIR = os.environ.get("CNN_JAX_DATA_DIR")


ROOT = Path(__file__).resolve().parents[1]

# The tests keep their own compiled programs, apart from the user's runs, and across test
# sessions (.pytest_cache is ignored by git), so a second session skips most compiles.
# Subprocesses inherit the variable. A cache turned off (CNN_JAX_COMPILE_CACHE=0) stays off.
if os.environ.get(compile_cache.ENV_VAR, "").strip().lower() not in compile_cache.OFF:
    os.environ[compile_cache.ENV_VAR] = str(ROOT / ".pytest_cache" / "cnn_jax_xla")


# The suite is bound by compiling many small programs, which XLA:CPU's LLVM backend does about
# twice as fast without its optimization passes. The tests check numbers, not speed, and every
# comparison they make is between runs under the same flags (subprocesses inherit them; the
# device tests set their own, which keep this one). XLA_FLAGS that name a level keep theirs.
OPT_LEVEL = "--xla_backend_optimization_level"
if OPT_LEVEL not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {OPT_LEVEL}=0".strip()


def _load_script(name: str):
    """experiments/<name>.py as a module, so a test can call its ``main(argv)`` in-process."""
    spec = importlib.util.spec_from_file_location(
        f"experiments.{name}", ROOT / "experiments" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_script():
    """``load_script("mnist_cnn")`` -> experiments/mnist_cnn.py as a module, loaded once."""
    return functools.cache(_load_script)


@pytest.fixture
def help_text(capsys):
    """``help_text(main)`` -> what a script's ``main(["--help"])`` prints; it must exit 0."""

    def run(main) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        return capsys.readouterr().out

    return run


@pytest.fixture(scope="session")
def mnist():
    """Real MNIST from $CNN_JAX_DATA_DIR; tests that need it skip without it."""
    if not DATA_DIR or not Path(DATA_DIR).is_dir():
        pytest.skip("CNN_JAX_DATA_DIR is not set to the MNIST folder")
    from cnn_jax.data import load_idx_folder

    return load_idx_folder(DATA_DIR)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the group markers
def pytest_collection_modifyitems(items):
    """Tests that use one session fixture built by a long subprocess run (the smoke
    reproduction) share a worker under pytest-xdist, so the run is made once."""
    for item in items:
        if "smoke" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("smoke"))


@pytest.fixture(autouse=True)
def _close_figures():
    """Tests that inspect figures leave them open; pyplot warns past 20 (an error here)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
