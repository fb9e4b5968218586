"""experiments/reproduce.py without running the study: bad flags, the plan, done-markers.
The study end to end (smoke), kill -9 and resume, and the page: tests/report/."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cnn_jax import cli
from cnn_jax.report import chapters, runner
from cnn_jax.report.reproduce import plan_text

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "reproduce.py"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scale", "huge"], "invalid choice"),
        (["--only", "cnn,nope"], "unknown chapter 'nope'"),
        (["--only", ","], "unknown chapter"),
        (["--seeds", "0"], "must be >= 1"),
        (["--out", "/proc/nope"], "is not writable"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(argv, message, tmp_path, load_script, capsys):
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as e:
        load_script("reproduce").main(argv)
    assert e.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert captured.out == ""
    assert not (tmp_path / "out").exists()  # found before any work


def test_help_is_one_sentence_per_flag():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    for flag in ("--scale", "--seeds", "--only", "--out"):
        assert flag in done.stdout


def test_every_run_has_three_scales_and_reasons():
    total = 0.0
    for chap in chapters.CHAPTERS:
        assert chap.question and chap.runs
        for run in chap.runs:
            for scale in chapters.SCALES:
                assert run.setting(scale).minutes > 0
            if _reduced(run.default):
                assert run.default.reason(), f"{run.path}: a reduced default says why"
            total += run.default.minutes
    assert total <= 20.5  # the default study fits about 20 minutes on 2 cores


def _reduced(setting) -> bool:
    """Flags beyond those that only add a part of the script or name a checkpoint."""
    args = [a for a in setting.resolve(Path("out")) if a not in ("--no-progress", "--train")]
    return bool(args) and not (len(args) == 2 and args[0] == "--checkpoint")


def test_any_output_path_stays_one_argument(tmp_path):
    """An --out with a space and a quote: every run's flags, and each path they name, are
    single arguments, and the recorded command gives the same arguments back."""
    out = tmp_path / "my runs" / 'it\'s "here"'
    for scale in chapters.SCALES:
        for job in runner.jobs(list(chapters.NAMES), scale, 2, out):
            assert job.argv[-2:] == ("--out", str(out / job.path))
            assert shlex.split(job.command) == ["python", *job.argv]
    probes = runner.jobs(["probes"], "smoke", 1, out)[0].argv
    at = probes.index("--checkpoint")
    assert probes[at + 1] == str(out / "cnn/seed/s0")


def test_plan_orders_chapters_and_seeds(tmp_path):
    plan = runner.jobs(["probes", "cnn"], "smoke", 2, tmp_path)
    paths = [j.path for j in plan]
    cnn_runs = [run.path for run in chapters.chapter("cnn").runs]
    assert cnn_runs[:3] == ["cnn/seed", "cnn/study_deep", "cnn/study_deep_dropout"]
    assert paths == [f"{run}/s{k}" for run in cnn_runs for k in (0, 1)] + ["probes", "probes_mlp"]
    seed1 = plan[1].argv
    assert seed1[seed1.index("--seed") + 1] == "1"
    assert seed1[-2:] == ("--out", str(tmp_path / "cnn/seed/s1"))
    probes = plan[-2]
    assert f"{tmp_path}/cnn/seed/s0" in probes.argv  # {out} filled in
    text = plan_text(plan, tmp_path, "smoke")
    assert "cnn" in text and "probes" in text and "estimated total" in text


def test_recorded_wall_times_replace_the_estimates(tmp_path):
    (tmp_path / runner.STATE).mkdir()
    (tmp_path / runner.STATE / "walltimes.json").write_text(json.dumps({"depth@smoke": 7.5}))
    (job,) = runner.jobs(["depth"], "smoke", 1, tmp_path)
    assert job.estimate_s == 7.5
    (job,) = runner.jobs(["depth"], "default", 1, tmp_path)
    assert job.estimate_s == chapters.chapter("depth").runs[0].default.minutes * 60


def test_scales_come_from_the_configs_presets():
    """A scale's flags are its config's preset: they build that config back, and the
    reason for a reduction is the preset's."""
    from cnn_jax import flags
    from cnn_jax.training.config import TrainConfig

    job = runner.jobs(["cnn"], "smoke", 1, Path("out"))[0]
    parser = cli.Parser()
    flags.add_flags(parser, TrainConfig)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out")
    values = vars(parser.parse_args(job.argv[1:]))
    assert flags.from_flags(TrainConfig, values) == flags.preset(TrainConfig, "smoke")
    probes = chapters.chapter("probes").runs[0].default
    assert probes.reason() == probes.presets[0].why() != ""


def _job(tmp_path, code: str, path="x/run"):
    run = chapters.CHAPTERS[0].runs[0]
    return runner.Job("depth", run, path, ("-c", code), 1.0, "smoke")


def test_done_marker_skips_the_same_command_only(tmp_path):
    stamp, results = tmp_path / "count", tmp_path / "x" / "run" / "results.json"
    code = f"import pathlib; p = pathlib.Path({str(stamp)!r}); p.write_text(p.read_text() + 'x' if p.exists() else 'x')"  # noqa: E501
    # a run is done only while the results it wrote are there
    code += f"; r = pathlib.Path({str(results)!r}); r.parent.mkdir(parents=True, exist_ok=True); r.write_text('{{}}')"  # noqa: E501
    logs = []
    assert runner.run_job(_job(tmp_path, code), tmp_path, logs.append) == 0
    assert runner.run_job(_job(tmp_path, code), tmp_path, logs.append) == 0
    assert stamp.read_text() == "x"  # the second call was skipped
    done = json.loads(runner.marker(tmp_path, "x/run", "done").read_text())
    assert done["returncode"] == 0 and done["command"].startswith("python -c")
    assert done["provenance"]["machine"]["cpu_count"] >= 1
    # Another command for the same run: its folder (another configuration) is cleared first.
    (tmp_path / "x" / "run" / "old").write_text("")
    assert runner.run_job(_job(tmp_path, code + " # v2"), tmp_path, logs.append) == 0
    assert stamp.read_text() == "xx" and not (tmp_path / "x" / "run" / "old").exists()


def test_a_failed_run_is_one_line_and_rerun(tmp_path):
    logs = []
    code = "import sys; print('boom: the reason'); sys.exit(3)"
    assert runner.run_job(_job(tmp_path, code), tmp_path, logs.append) == 3
    assert len(logs) == 1 and "exit 3" in logs[0] and "boom: the reason" in logs[0]
    assert not runner.is_done(tmp_path, _job(tmp_path, code))  # a failure is tried again


def test_stale_seeds_of_another_configuration_are_removed(tmp_path):
    default = {j.path: j for j in runner.jobs(["cnn"], "default", 3, tmp_path)}
    for path in ("cnn/seed/s1", "cnn/seed/s2"):
        (tmp_path / path).mkdir(parents=True)
        (tmp_path / path / "results.json").write_text("{}")
    # s1: the smoke configuration's; s2: this one's (default), finished.
    smoke = {j.path: j for j in runner.jobs(["cnn"], "smoke", 3, tmp_path)}
    for path, plan in (("cnn/seed/s1", smoke), ("cnn/seed/s2", default)):
        marker = runner.marker(tmp_path, path, "done")
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"command": plan[path].command, "returncode": 0}))
    removed = runner.prune_stale_seeds(["cnn"], "default", 1, tmp_path)
    assert removed == ["cnn/seed/s1"]
    assert not (tmp_path / "cnn/seed/s1").exists() and (tmp_path / "cnn/seed/s2").exists()
