"""Writing run outputs: atomic JSON, and the versions and machine that produced them."""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "matplotlib")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("AMD EPYC ..."): the same seed gives other
    floats on other CPUs. ``platform.processor()`` is empty on Linux, hence the file."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    import jax  # here, not above: the report writes results without starting JAX

    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "cpu_count": os.cpu_count(),
        "processor": cpu_model(),
    }


def git_state() -> dict:
    """The commit of the cnn_jax checkout and whether its tree had changes (None outside git)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
        )

    try:
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "modified": None}
    if head.returncode != 0:
        return {"commit": None, "modified": None}
    return {"commit": head.stdout.strip(), "modified": bool(status.stdout.strip())}


def provenance(started: float | None = None) -> dict:
    """Where a results.json came from: the command, the commit (modified when the tree was
    dirty), the machine, the versions, the date, and the wall time since ``started``
    (a ``time.time()``)."""
    out = {
        "command": shlex.join(["python", *sys.argv]),
        "git": git_state(),
        "machine": machine(),
        "versions": versions(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    if started is not None:
        out["wall_seconds"] = round(time.time() - started, 1)
    return out


def _atomic_write(path: str | Path, write, mode: str = "w") -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place,
    so that ``path`` is never left half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj) -> None:
    """``obj`` as strict JSON: NaN or Infinity raise ValueError, and nothing is written
    (they are not JSON, and a diverged number must not pass for a result)."""
    _atomic_write(path, lambda f: (json.dump(obj, f, indent=2, allow_nan=False), f.write("\n")))


def write_text(path: str | Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text))


def write_npz(path: str | Path, arrays) -> None:
    """``np.savez_compressed`` of a name -> array mapping (loads without pickle)."""
    import numpy as np

    _atomic_write(
        path,
        lambda f: np.savez_compressed(f, **{k: np.asarray(v) for k, v in arrays.items()}),
        mode="wb",
    )


def save_figure(fig, path: str | Path) -> None:
    """Save a matplotlib figure atomically (temporary file, then rename), then close it:
    pyplot keeps every figure it made until closed."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)


def save_figures(figures, results: dict, out: str | Path) -> list[Path]:
    """Each figure of ``figures`` ({file name: draw(results)}) whose numbers ``results``
    holds, saved in ``out``; one it lacks them for (KeyError: another setting's figure) is
    skipped. Returns the paths written."""
    from cnn_jax.plotting import drawn

    written = []
    for file, draw in figures.items():
        if (fig := drawn(draw, results)) is not None:
            save_figure(fig, Path(out) / file)
            written.append(Path(out) / file)
    return written
