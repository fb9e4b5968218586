"""kill -9 in the middle of a chapter, then the same command again: the chapters that had
finished are not redone, the interrupted one resumes, and the numbers equal an
uninterrupted run's (the shared smoke run)."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnn_jax import published
from cnn_jax.report import compare
from cnn_jax.report.runner import STATE

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "reproduce.py"

FIRST, SECOND = "depth", "cnn"  # the quickest chapter, then one of three runs


def _wait_for(path, proc, timeout=1800):
    """Poll until ``path`` exists; fail when ``proc`` ends first or ``timeout`` s pass."""
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, "reproduce ended before the chapter was interrupted"
        if time.time() > deadline:
            pytest.fail(f"{path} never appeared")
        time.sleep(0.2)


def _lock_free(folder, timeout=30):
    """True once nothing holds the run folder's lock (a killed script's dies with it)."""
    if not folder.is_dir():
        return True  # killed before the script made its folder
    t0 = time.time()
    while time.time() - t0 < timeout:
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.2)
        finally:
            os.close(fd)
    return False


def test_kill_9_mid_chapter_then_resume(smoke, run_reproduce, tmp_path):
    smoke_out, smoke_done = smoke
    assert smoke_done.returncode == 0
    out = tmp_path / "out"
    argv = ["--scale", "smoke", "--only", f"{FIRST},{SECOND}", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), *argv],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Kill reproduce while the second chapter's second run is at work.
        _wait_for(out / STATE / "cnn" / "deep" / "s0.started.json", proc)
        time.sleep(3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _lock_free(out / "cnn" / "deep" / "s0"), "the script outlived reproduce"
    assert not (out / STATE / "cnn" / "deep" / "s0.done.json").exists()
    finished = [out / STATE / f"{FIRST}.done.json", out / STATE / "cnn" / "seed" / "s0.done.json"]
    before = [p.stat().st_mtime_ns for p in finished]
    results_before = (out / FIRST / "results.json").stat().st_mtime_ns

    again = run_reproduce(*argv)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert [p.stat().st_mtime_ns for p in finished] == before  # not redone
    assert (out / FIRST / "results.json").stat().st_mtime_ns == results_before
    assert f"  {FIRST}: done earlier, skipped" in again.stdout
    assert "  cnn/seed/s0: done earlier, skipped" in again.stdout
    assert (out / STATE / "cnn" / "deep_dropout" / "s0.done.json").is_file()
    # The numbers equal those of the uninterrupted smoke run.
    entries = [e for e in published.load() if e.chapter in (FIRST, SECOND) and e.run]
    resumed = {r.entry.id: r.measured for r in compare.rows(entries, out)}
    straight = {r.entry.id: r.measured for r in compare.rows(entries, smoke_out)}
    assert resumed == straight and None not in resumed.values()
