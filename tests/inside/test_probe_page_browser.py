"""The probe page opened in headless Chromium: every figure loads, and a screenshot is saved."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from cnn_jax.inside import probe_page

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="chromium is not installed: apt-get install chromium"
)


def _tiny_results(names=("input", "dense1", "softmax")):
    rng = np.random.default_rng(0)
    layers = {
        name: {
            "dimension": 10 * (i + 1),
            "probe_train_accuracy": 0.5 + 0.1 * i,
            "probe_test_accuracy": 0.4 + 0.1 * i,
            "probe_train_loss": 1.0,
            "nearest_mean_accuracy": 0.3 + 0.1 * i,
            "separation": 1.0 + i,
        }
        for i, name in enumerate(names)
    }
    cka = np.eye(len(names)).tolist()
    runs = [
        {"label": label, "source": {"checkpoint": None, "arch": "mlp", "seed": 0},
         "layers": layers, "cka": cka}
        for label in ("a", "b")
    ]  # fmt: skip
    cross = [{"a": "a", "b": "b", "layers_a": list(names), "layers_b": list(names), "matrix": cka}]
    results = {
        "settings": {
            "train_images": 20,
            "test_images": 20,
            "l2": 1e-4,
            "steps": 5,
            "components": 2,
            "seed": 0,
        },  # fmt: skip
        "definitions": {"separation": "between over within"},
        "runs": runs,
        "cross_cka": cross,
        "command": "python experiments/probe_layers.py --at-init mlp",
    }
    scatter = [{name: rng.normal(size=(20, 2)) for name in names} for _ in runs]
    return results, scatter, rng.integers(0, 10, 20)


def _dump_dom(page, screenshot=None) -> str:
    common = [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
              "--allow-file-access-from-files", "--virtual-time-budget=5000"]  # fmt: skip
    if screenshot is not None:
        subprocess.run(
            [*common, f"--screenshot={screenshot}", "--window-size=1200,2000", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=False,
        )
    done = subprocess.run(
        [*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    return done.stdout


def _loaded(dom: str) -> tuple[int, int]:
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert match, "the page's image check did not run"
    return int(match.group(1)), int(match.group(2))


def test_every_figure_loads_in_chromium(tmp_path):
    results, scatter, labels = _tiny_results()
    out = tmp_path / "page"
    written = probe_page.write_study(out, results, scatter, labels)
    loaded, total = _loaded(_dump_dom(out / "index.html", screenshot=tmp_path / "page.png"))
    figures = written["figures"]
    expected = 1 + len(figures["cka"]) + len(figures["pca"]) + len(figures["cross_cka"])
    assert (loaded, total) == (expected, expected)
    assert (tmp_path / "page.png").stat().st_size > 1000


def test_the_check_sees_a_missing_figure(tmp_path):
    results, scatter, labels = _tiny_results()
    out = tmp_path / "page"
    probe_page.write_study(out, results, scatter, labels)
    (out / "pca_1.png").unlink()
    loaded, total = _loaded(_dump_dom(out / "index.html"))
    assert loaded == total - 1
