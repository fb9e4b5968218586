"""The report against bad input, on hand-made run folders (no training): a value that is not
a finite number is "unreadable", shown and never scored; a failed run is shown with its exit
code and last line; a row from a run of another scale is flagged; a done marker counts only
while its results are there unchanged; every run folder is held by the reproduction."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_jax import published
from cnn_jax.errors import UsageError
from cnn_jax.report import checks, docs, md, runner
from cnn_jax.report.compare import MISSING, REPRODUCED, UNREADABLE, row

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def entry():
    return next(e for e in published.load() if e.id == "study_seed_cnn")


def _seed(out: Path, text: str, k: int = 0) -> Path:
    folder = out / "cnn" / "seed" / f"s{k}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(text)
    return folder


@pytest.mark.parametrize(
    "value, why",
    [
        ('"0.99"', 'the string "0.99", not a number'),
        ("[0.99, 0.98]", "a list where one number per seed folder belongs"),
        ("1" + "0" * 400, "too large for a float"),
        ("NaN", "not finite"),
        ("true", "true, not a number"),
    ],
)
def test_a_value_that_is_not_a_finite_number_is_unreadable(tmp_path, entry, value, why):
    _seed(tmp_path, f'{{"test_accuracy": {value}, "epochs": 2}}')
    r = row(entry, tmp_path)
    assert r.verdict == UNREADABLE and r.measured is None
    assert r.problem.startswith("unreadable: test_accuracy") and why in r.problem
    assert "unreadable: test_accuracy" in md.measured_text(r)


def test_a_results_file_that_is_not_an_object_is_unreadable(tmp_path, entry):
    _seed(tmp_path, "[1, 2]")
    r = row(entry, tmp_path)
    assert r.verdict == UNREADABLE and "holds a list, not an object" in r.problem
    _seed(tmp_path, "{not json")
    assert "is not valid JSON" in row(entry, tmp_path).problem


def test_a_failed_run_is_shown_with_its_exit_code_and_last_line(tmp_path, entry):
    state = tmp_path / runner.STATE / "cnn" / "seed"
    state.mkdir(parents=True)
    (state / "s0.done.json").write_text(json.dumps({"command": "c", "returncode": 3}))
    (state / "s0.log").write_text("epoch 1\nmnist_cnn.py: diverged: epoch 2: non-finite loss\n")
    r = row(entry, tmp_path)
    assert r.verdict == MISSING
    assert (
        r.problem == "cnn/seed/s0 failed (exit 3): mnist_cnn.py: diverged: epoch 2: non-finite loss"
    )
    failed = checks.failed_runs(tmp_path)
    assert failed == [("cnn/seed/s0", 3, "mnist_cnn.py: diverged: epoch 2: non-finite loss")]
    page = md.report([], [r], {"scale": "smoke"}, failed)
    assert "## Failed runs" in page and "- cnn/seed/s0: exit 3: mnist_cnn.py: diverged" in page
    assert "1 run(s) failed" in md.headline([r], {"scale": "smoke"}, failed)


def test_rows_of_another_scale_are_flagged_and_counted_in_the_headline(tmp_path, entry):
    _seed(tmp_path, '{"test_accuracy": 0.99, "epochs": 2}')
    state = tmp_path / runner.STATE / "cnn" / "seed"
    state.mkdir(parents=True)
    (state / "s0.done.json").write_text(json.dumps({"returncode": 0, "scale": "smoke"}))
    r = row(entry, tmp_path)
    assert r.scale == "smoke" and r.verdict in (REPRODUCED, "near", "not reproduced")
    assert md.scale_text(r, "default") == "smoke (not default)"
    assert md.scale_text(r, "smoke") == "smoke"
    assert "1 of the numbers come from runs at another scale (smoke)" in md.headline(
        [r], {"scale": "default"}
    )
    assert "smoke (not default)" in md.registry_table([r], scale="default")


def test_a_done_marker_counts_only_while_its_results_are_there_unchanged(tmp_path):
    job = runner.Job("cnn", None, "cnn/seed/s0", ("experiments/x.py",), 1.0, "smoke")
    folder = _seed(tmp_path, '{"test_accuracy": 0.99}')
    marker = runner.marker(tmp_path, job.path, "done")
    marker.parent.mkdir(parents=True)
    record = {"command": job.command, "returncode": 0, "scale": "smoke"}
    marker.write_text(json.dumps({**record, "results": runner.results_digest(folder)}))
    assert runner.is_done(tmp_path, job)
    (folder / "results.json").write_text('{"test_accuracy": 0.5}')  # another command's
    assert not runner.is_done(tmp_path, job)
    (folder / "results.json").unlink()  # the folder deleted after it finished
    assert not runner.is_done(tmp_path, job)


def test_every_run_folder_is_held_by_the_reproduction(tmp_path):
    from cnn_jax import cli

    jobs = [runner.Job("cnn", None, p, (), 1.0, "smoke") for p in ("cnn/a/s0", "cnn/b/s0")]
    held = runner.HeldFolders(tmp_path, jobs)
    try:
        with pytest.raises(UsageError, match="in use by another run"):
            cli.RunFolder(tmp_path / "cnn" / "b" / "s0")
        with held.lent("cnn/b/s0"):
            cli.RunFolder(tmp_path / "cnn" / "b" / "s0").release()  # its own script
        with pytest.raises(UsageError, match="in use by another run"):
            cli.RunFolder(tmp_path / "cnn" / "b" / "s0")
    finally:
        held.release()
    cli.RunFolder(tmp_path / "cnn" / "a" / "s0").release()


def test_a_snapshot_from_a_run_with_nan_is_one_line(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "results.json").write_text('{"rows": [{"test_error": NaN}]}')
    with pytest.raises(UsageError, match=r"rows/0/test_error is not finite.*rerun that run"):
        docs._run_results(folder)


def test_an_unwritable_report_folder_is_one_line_exit_2(tmp_path):
    (tmp_path / "report").write_text("a file where the report folder goes")
    done = subprocess.run(
        [sys.executable, "-m", "cnn_jax.report", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m cnn_jax.report: error: the report folder {tmp_path}/report is not "
        "writable (File exists)"
    ]
