"""Every script answers --help with its usage and exit 0 (argparse's help is %-formatted, so a
bare "%" in any help text would be a traceback)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.stem for p in (ROOT / "experiments").glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_helps(load_script, help_text, name):
    text = help_text(load_script(name).main)
    assert text.startswith("usage:") and "--help" in text


def test_the_report_helps():
    for argv in (["--help"], ["--docs", "--help"]):
        done = subprocess.run(
            [sys.executable, "-m", "cnn_jax.report", *argv],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: python -m cnn_jax.report"), done.stdout
