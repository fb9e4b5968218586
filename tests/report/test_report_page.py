"""The smoke run's report page in headless Chromium: every image loads, every verdict cell
is filled, the summary counts equal the tables', and nothing reads NaN or undefined."""

import re
import shutil
import subprocess
from collections import Counter

import pytest

from cnn_jax import published
from cnn_jax.report.compare import VERDICTS

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="chromium is not installed: apt-get install chromium"
)


def _dom(page) -> str:
    done = subprocess.run(
        [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return done.stdout


def test_report_page_in_chromium(smoke):
    out, _ = smoke
    page = out / "report" / "index.html"
    dom = _dom(page)
    match = re.search(r'data-images-loaded="(\d+)/(\d+)"', dom)
    assert match, "the page's image check did not run"
    loaded, total = int(match.group(1)), int(match.group(2))
    assert total >= 8 and loaded == total  # a figure or more per chapter, all shown
    # Every verdict cell is filled, one per registry entry.
    cells = re.findall(r'<td class="verdict [^"]*">([^<]*)</td>', dom)
    assert len(cells) == len(published.load())
    words = [_word(c) for c in cells]
    assert all(w in VERDICTS for w in words), set(words) - set(VERDICTS)
    # The summary's counts are the tables', per chapter and in all.
    for row in re.findall(r'<tr data-chapter="([^"]+)">(.*?)</tr>', dom):
        chapter, html = row
        counts = dict(re.findall(r'data-verdict="([^"]+)">(\d+)<', html))
        section = dom if chapter == "all" else _section(dom, chapter)
        seen = Counter(map(_word, re.findall(r'<td class="verdict [^"]*">([^<]*)</td>', section)))
        assert {v: int(counts[v]) for v in VERDICTS} == {v: seen[v] for v in VERDICTS}, chapter
    assert "NaN" not in dom and "undefined" not in dom
    # Self-contained: nothing is fetched from the network.
    assert not re.search(r'(src|href)="(https?:)?//', dom)
    assert (out / "report" / "pages" / "layers" / "index.html").is_file()
    assert (out / "report" / "pages" / "probes" / "index.html").is_file()


def _word(cell: str) -> str:
    """A verdict cell's word: "not comparable (budget 0.001)" -> "not comparable"."""
    return re.sub(r" \(budget [^)]*\)$", "", cell)


def _section(dom: str, chapter: str) -> str:
    start = dom.index(f'<section id="{chapter}">')
    return dom[start : dom.index("</section>", start)]
