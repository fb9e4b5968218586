"""Screenshots, in headless Chromium, of the draw-a-digit page with a 7 drawn on it and of
the first chart of an interactive chart page, for the docs.

python experiments/page_screenshots.py \
    --draw-page runs/visualize_layers/seed-e1-epoch1-draw/draw.html \
    --draw-png docs/layers/draw_page.png \
    --chart-page runs/interactive/vanishing.html --chart-png docs/vanishing/interactive_explorer.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnn_jax import browser

# A 7, drawn as one stroke on the pad (fractions of its width and height).
SEVEN = [(0.22, 0.22), (0.5, 0.21), (0.78, 0.2), (0.68, 0.42), (0.57, 0.64), (0.48, 0.85)]


def draw_screenshot(driver, page: Path, png: Path) -> int:
    """Draw a 7 on the page's pad and save the window; returns the digit the page predicts."""
    driver.get(browser.page_uri(page))
    browser.wait_for(driver, "document.documentElement.dataset.ready === '1'")
    pad = driver.find_element("id", "pad")
    fine = (
        [  # intermediate points, so the stroke is a pointer drag, not three jumps
            (a[0] + (b[0] - a[0]) * t / 4, a[1] + (b[1] - a[1]) * t / 4)
            for a, b in zip(SEVEN, SEVEN[1:], strict=False)
            for t in range(4)
        ]
        + [SEVEN[-1]]
    )
    browser.pointer_stroke(driver, pad, fine)
    predicted = driver.execute_script("return window.cnn.current().predicted")
    driver.save_screenshot(str(png))
    return predicted


def chart_screenshot(driver, page: Path, png: Path) -> None:
    driver.get(browser.page_uri(page))
    browser.wait_for(driver, "document.documentElement.dataset.chartsRendered")
    driver.find_element("css selector", "figure").screenshot(str(png))  # the first chart


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="page_screenshots.py", description=__doc__.split("\n")[0])
    parser.add_argument("--draw-page", type=Path, help="a draw.html from visualize_layers.py")
    parser.add_argument("--draw-png", type=Path, help="where its screenshot goes")
    parser.add_argument(
        "--chart-page",
        type=Path,
        help="a page of: python -m cnn_jax.report --interactive",
    )
    parser.add_argument("--chart-png", type=Path, help="where its screenshot goes")
    args = parser.parse_args(argv)
    for page, png in ((args.draw_page, args.draw_png), (args.chart_page, args.chart_png)):
        if (page is None) != (png is None):
            parser.error("give each page with its --...-png")
        if page is not None and not page.is_file():
            parser.error(f"{page} is not a file")
    if reason := browser.unavailable():
        parser.error(reason)
    driver = browser.open_chromium(1250, 1400)
    try:
        if args.draw_page:
            predicted = draw_screenshot(driver, args.draw_page, args.draw_png)
            print(f"{args.draw_png}: a drawn 7, read as {predicted}")
        if args.chart_page:
            chart_screenshot(driver, args.chart_page, args.chart_png)
            print(f"{args.chart_png}")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
