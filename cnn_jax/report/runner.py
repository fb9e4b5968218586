"""Run the study's chapters as subprocesses, resumably, and record what each run was.

Each run is its script in a subprocess (a crash or a leak in one cannot touch another), with
``--out <out>/<run path>``. Around it, in ``<out>/_state/``:

- ``<run path>.started.json``: the command, written before the script starts. A later call
  with another command for the same run clears the run folder first (its checkpoints belong
  to another configuration); with the same command the script resumes from its checkpoints.
- ``<run path>.done.json``: the command, the exit status, the wall time, the scale, the
  SHA-256 of its results files and the provenance (commit, machine, versions, date), written
  atomically when the script ends. A run whose marker holds the same command and exit status
  0, and whose results files are there with those digests, is skipped.
- ``walltimes.json``: the last wall time of every (run, scale) on this machine, which
  replaces the estimate of the plan the next time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cnn_jax import cli, results
from cnn_jax.chapter import Run
from cnn_jax.report.chapters import CHAPTERS

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
STATE = "_state"


@dataclass(frozen=True)
class Job:
    """One script call of the plan: ``path`` is its folder under the output folder."""

    chapter: str
    run: Run
    path: str
    argv: tuple[str, ...]  # the script and its flags, without the interpreter
    estimate_s: float
    scale: str

    @property
    def command(self) -> str:
        return shlex.join(["python", *self.argv])


def jobs(chapters: list[str], scale: str, seeds: int, out: Path) -> list[Job]:
    """The plan, in the story's order. Seeded runs (the CNNs) go to <path>/s<k> with
    ``--seed k``; the estimates are the table's unless this machine recorded a wall time."""
    measured = _read(out / STATE / "walltimes.json") or {}
    plan = []
    for chap in CHAPTERS:
        if chap.name not in chapters:
            continue
        for run in chap.runs:
            setting = run.setting(scale)
            flags = setting.resolve(out)  # an argument list: any path stays one argument
            copies = [(f"{run.path}/s{k}", ["--seed", str(k)]) for k in range(seeds)]
            for path, extra in copies if run.seeded else [(run.path, [])]:
                argv = (f"experiments/{run.script}", *flags, *extra, "--out", str(out / path))
                key = f"{path}@{scale}"
                estimate = measured.get(key, setting.minutes * 60)
                plan.append(Job(chap.name, run, path, argv, float(estimate), scale))
    return plan


def prune_stale_seeds(chapters: list[str], scale: str, seeds: int, out: Path) -> list[str]:
    """Remove the seed folders beyond ``seeds`` that another configuration left (an earlier
    run at another scale): the comparison reads every seed folder of a run. Extra seeds of
    the same configuration stay, as more seeds of it. Returns the removed paths."""
    more = {j.path: j for j in jobs(chapters, scale, 1000, out) if j.run.seeded}
    removed = []
    for path, job in more.items():
        k = int(path.rsplit("/s", 1)[1])
        if k < seeds or not (out / path).exists():
            continue
        done = _read(marker(out, path, "done")) or {}
        if done.get("command") != job.command or done.get("returncode") != 0:
            shutil.rmtree(out / path, ignore_errors=True)
            for kind in ("started", "done"):
                marker(out, path, kind).unlink(missing_ok=True)
            removed.append(path)
    return removed


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def marker(out: Path, path: str, kind: str) -> Path:
    return out / STATE / f"{path}.{kind}.json"


RESULT_FILES = ("results.json", "benchmark.json")  # what a finished run leaves to be read


def results_digest(folder: Path) -> dict[str, str]:
    """{file name: SHA-256} of the results files in a run folder."""
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in RESULT_FILES
        if (folder / name).is_file()
    }


def is_done(out: Path, job: Job) -> bool:
    """The run finished with this very command and exit 0, and its results are there,
    unchanged since (a deleted folder, or results another command wrote into it, do not
    count)."""
    done = _read(marker(out, job.path, "done"))
    if not done or done.get("command") != job.command or done.get("returncode") != 0:
        return False
    found = results_digest(out / job.path)
    return bool(found) and found == done.get("results", found)


# Runs the script as __main__ after asking Linux to SIGKILL it when reproduce dies
# (PR_SET_PDEATHSIG), so that a killed study leaves no script running on. Set in the child
# itself: a preexec_fn would fork the parent, which JAX's threads do not survive safely.
LAUNCHER = """
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)
except (OSError, AttributeError):
    pass
if os.getppid() != int(os.environ.get("CNN_JAX_REPRODUCE_PID", os.getppid())):
    sys.exit(137)
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class HeldFolders:
    """Every run folder of a plan locked by the reproduction (:class:`cnn_jax.cli.RunFolder`),
    so that no other command writes into one, finished or not; a run's own script takes the
    lock over while it runs (:meth:`lent`). A folder in use by another process is refused
    (UsageError, one line) before any run starts."""

    def __init__(self, out: Path, plan: list[Job]):
        self.out = out
        self.folders: dict[str, cli.RunFolder] = {}
        try:
            for job in plan:
                self.folders[job.path] = cli.RunFolder(out / job.path)
        except BaseException:
            self.release()
            raise

    @contextlib.contextmanager
    def lent(self, path: str):
        """Unlock ``path`` while its script runs, and lock it again after."""
        held = self.folders.pop(path, None)
        if held is not None:
            held.release()
        try:
            yield
        finally:
            if held is not None:
                self.folders[path] = cli.RunFolder(self.out / path)

    def release(self) -> None:
        for held in self.folders.values():
            held.release()
        self.folders.clear()


def run_job(job: Job, out: Path, log, held: HeldFolders | None = None) -> int:
    """Run one script (or skip it when its done-marker matches); returns its exit status.
    With ``held``, the run folder is unlocked for the script only while it runs."""
    if is_done(out, job):
        return 0
    with held.lent(job.path) if held is not None else contextlib.nullcontext():
        return _run(job, out, log)


def _run(job: Job, out: Path, log) -> int:
    started = _read(marker(out, job.path, "started"))
    if started and started.get("command") != job.command:
        # another configuration's checkpoints: a script would refuse or mix them
        shutil.rmtree(out / job.path, ignore_errors=True)
    marker(out, job.path, "done").unlink(missing_ok=True)
    results.write_json(marker(out, job.path, "started"), {"command": job.command})
    t0 = time.time()
    log_path = out / STATE / f"{job.path}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as stream:
        launcher = ["-c", LAUNCHER] if job.argv[0].endswith(".py") else []
        code = subprocess.call(
            [sys.executable, *launcher, *job.argv],
            cwd=EXPERIMENTS.parent,
            stdout=stream,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CNN_JAX_REPRODUCE_PID": str(os.getpid())},
        )
    wall = round(time.time() - t0, 1)
    prov = results.provenance(t0)
    prov["command"] = job.command
    results.write_json(
        marker(out, job.path, "done"),
        {
            "command": job.command,
            "returncode": code,
            "wall_seconds": wall,
            "scale": job.scale,
            "results": results_digest(out / job.path),
            "provenance": prov,
        },
    )
    if code == 0:
        _record_walltime(out, job, wall)
    else:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        log(f"  {job.path}: exit {code}: {tail[0][:160]} (log: {log_path})")
    return code


def _record_walltime(out: Path, job: Job, wall: float) -> None:
    path = out / STATE / "walltimes.json"
    table = _read(path) or {}
    table[f"{job.path}@{job.scale}"] = wall
    results.write_json(path, table)
