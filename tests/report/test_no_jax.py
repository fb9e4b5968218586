"""The report and the docs' tables are built from stored JSON only: importing and running
them must not start JAX (a chapter's declaration imports none)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys
from pathlib import Path
from cnn_jax.report import __main__ as report, reproduce
out = Path(sys.argv[1])
assert report.main(["--docs", "--check"]) == 0
assert report.main([str(out)]) == 0
assert (out / "report" / "index.html").is_file()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "flax", "optax"))
assert not loaded, loaded
"""


def test_the_report_builds_without_importing_jax(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr[-2000:]
