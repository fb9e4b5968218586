"""Headless Chromium driven by Selenium, for the browser tests and the docs' screenshots.

Debian's ``chromium`` and ``chromium-driver`` (``apt-get install chromium chromium-driver``)
and ``selenium`` (the ``dev`` extra): nothing is downloaded, the driver is given by path so
Selenium's own manager never runs. :func:`unavailable` says in one line why a browser cannot
be had here, for a test to skip with.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser")
DRIVERS = ("chromedriver", "chromium.chromedriver")


def _which(names: Sequence[str]) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


def unavailable() -> str | None:
    """None when Chromium, its driver and Selenium are all here, else one line saying why."""
    missing = []
    if _which(BROWSERS) is None:
        missing.append("chromium")
    if _which(DRIVERS) is None:
        missing.append("chromium-driver")
    if missing:
        return f"{' and '.join(missing)} not installed: apt-get install chromium chromium-driver"
    if importlib.util.find_spec("selenium") is None:
        return "selenium not installed: pip install -e '.[dev]'"
    return None


def open_chromium(width: int = 1300, height: int = 1000):
    """A headless Chromium WebDriver that logs every network request (see :func:`requests`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _which(BROWSERS)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium sends no usage statistics
    return webdriver.Chrome(options=options, service=Service(executable_path=_which(DRIVERS)))


def requests(driver) -> list[str]:
    """The URLs of every request the browser sent since the last call (DevTools' log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def pointer_stroke(driver, element, points: Sequence[tuple[float, float]]) -> None:
    """Press, move through ``points`` (fractions of ``element``'s width and height, from its
    top-left corner) and release: the pointerdown, pointermove and pointerup a mouse sends."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput

    rect = element.rect
    mouse = PointerInput("mouse", "mouse")
    actions = ActionBuilder(driver, mouse=mouse, duration=10)

    def at(fx: float, fy: float) -> tuple[int, int]:  # offsets from the element's centre
        return round((fx - 0.5) * rect["width"]), round((fy - 0.5) * rect["height"])

    actions.pointer_action.move_to(element, *at(*points[0]))
    actions.pointer_action.pointer_down()
    for point in points[1:]:
        actions.pointer_action.move_to(element, *at(*point))
    actions.pointer_action.pointer_up()
    actions.perform()


def page_uri(path: str | Path) -> str:
    return Path(path).resolve().as_uri()


def wait_for(driver, script: str, timeout: float = 20.0):
    """The first truthy value ``script`` (a JavaScript expression) returns, polled."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return {script}")
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"the page never made {script!r} true within {timeout:g} s")
