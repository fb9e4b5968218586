"""The interactive chart pages in headless Chromium: offline, every chart drawn with the
stored numbers in it, and the explorer's controls switch what it shows."""

import json
import re
import time

import numpy as np
import pytest

from cnn_jax import browser
from cnn_jax.report import interactive

REASON = browser.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no browser test: {REASON}")


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return interactive.write_pages(tmp_path_factory.mktemp("interactive"))


@pytest.fixture(scope="module")
def chromium():
    driver = browser.open_chromium(1100, 1300)
    yield driver
    driver.quit()


def _open(driver, page) -> None:
    browser.requests(driver)  # empty the log
    driver.get(browser.page_uri(page))
    for _ in range(200):
        done = driver.execute_script(
            "var d = document.documentElement.dataset; return d.chartsRendered || d.chartsError"
        )
        if done:
            break
        time.sleep(0.05)
    assert done == str(len(interactive.CHARTS[page.stem])), done
    assert browser.requests(driver) == [browser.page_uri(page)]  # nothing but the page


def _labels(driver, chart_id: str, marks: str = "[aria-label]") -> list[str]:
    """The aria-label of every mark of one chart: Vega writes each point's fields there."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' ' + arguments[1]),"
        " e => e.getAttribute('aria-label'))",
        chart_id,
        marks,
    )


def _points(driver, chart_id: str) -> list[str]:
    return _labels(driver, chart_id, "path[aria-roledescription=point]")


def _values(labels: list[str], field: str) -> list[float]:
    """The numbers a tooltip field shows, read back from the marks' labels (d3's format)."""
    found = (re.search(rf"(?:^|; ){re.escape(field)}: ([-0-9.e]+)", label) for label in labels)
    return [float(m.group(1)) for m in found if m]


def _snapshot(chapter: str) -> dict:
    return json.loads((interactive.SNAPSHOTS / f"{chapter}.json").read_text())


def test_every_chapter_with_charts_has_a_page(pages):
    assert set(pages) == set(interactive.CHARTS)


def test_the_vanishing_explorer_shows_the_stored_sweep_and_switches(pages, chromium):
    from selenium.webdriver.support.ui import Select

    _open(chromium, pages["vanishing"])
    run = _snapshot("vanishing")["runs"][interactive.VANISHING_RUN]
    deepest = run["delta_norms"]["784-30-30-30-30-10"]
    labels = " | ".join(_labels(chromium, "vanishing-explorer"))
    for value in (*deepest["median"], *deepest["p99"], *deepest["published"]):
        assert f"{value:.4g}" in labels  # every stored number of the default view is drawn
    # Switch to ReLU + CE: its stored medians show; at 2 hidden layers nothing was stored.
    Select(chromium.find_element("css selector", "select")).select_by_visible_text("ReLU + CE")
    relu = " | ".join(_labels(chromium, "vanishing-explorer"))
    for value in run["comparison"]["ReLU + CE"]["median"][:4]:
        assert f"{value:.4g}" in relu
    assert f"{deepest['median'][0]:.4g}" not in relu
    chromium.find_element("css selector", "input[type=radio][value='2']").click()
    assert "not in the stored sweep" in " | ".join(_labels(chromium, "vanishing-explorer"))


def test_every_learning_curve_point_is_drawn(pages, chromium):
    _open(chromium, pages["vanishing"])
    rows = interactive.learning_rows(_snapshot("vanishing")["runs"][interactive.VANISHING_RUN])
    shown = [label for label in _points(chromium, "vanishing-learning") if "split: test" in label]
    assert len(shown) == sum(r["split"] == "test" for r in rows) > 0


def test_the_training_chart_draws_nielsen_and_our_band(pages, chromium):
    _open(chromium, pages["vanishing"])
    run = _snapshot("vanishing")["runs"][interactive.VANISHING_RUN]
    deepest = [r for r in interactive.training_delta_rows(run) if r["hidden"] == 4]
    points = _points(chromium, "vanishing-training")
    assert len(points) == len(deepest) > 0  # one cross per stored epoch and layer
    for field, key in (("Nielsen", "published"), ("max", "max"), ("median", "median")):
        shown = sorted(_values(points, field))
        np.testing.assert_allclose(shown, sorted(r[key] for r in deepest), rtol=1e-3)


def test_the_cnn_chart_draws_every_seed_and_picks_one(pages, chromium):
    from selenium.webdriver.support.ui import Select

    _open(chromium, pages["cnn"])
    rows = interactive.cnn_rows(_snapshot("cnn")["runs"])
    points = _points(chromium, "cnn-accuracy")
    assert len(points) == len(rows) > 0
    Select(chromium.find_element("css selector", "select")).select_by_visible_text("s1")
    points = _points(chromium, "cnn-accuracy")
    assert len(points) == sum(r["seed"] == "s1" for r in rows)


def test_the_initialization_chart_draws_every_seed(pages, chromium):
    _open(chromium, pages["initialization"])
    rows = interactive.initialization_rows(_snapshot("initialization")["runs"])
    labels = " | ".join(_labels(chromium, "initialization-errors"))
    for row in rows:
        assert f"test error %: {row['test_error']:.2f}" in labels
