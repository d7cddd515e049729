"""Headless Chromium for the report's tests and benchmark: Debian's `chromium` and `chromium-driver`, driven
through selenium (a dev dependency). Nothing is downloaded; without the two executables `find_chromium()` is
None and the callers decide whether that is a skip or a failure."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: The flags that keep Chromium off the network and away from the machine's profile.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--allow-file-access-from-files")  # fmt: skip


def find_chromium() -> tuple[str, str] | None:
    """(chromium, chromedriver) executables, or None."""
    browser = os.environ.get("EVALKIT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("EVALKIT_CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not driver:
        return None
    return browser, driver


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """A selenium WebDriver on headless Chromium with a fresh profile, closed afterwards."""
    from selenium import webdriver  # noqa: PLC0415 - a dev dependency
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    found = find_chromium()
    if found is None:
        raise RuntimeError("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    browser, driver_path = found
    profile = tempfile.mkdtemp(prefix="evalkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def file_url(path: Path, fragment: str = "") -> str:
    return Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")


def check_report(index: Path, timeout_s: float = 30.0) -> list[str]:
    """Open every page of a written report in headless Chromium — the leaderboard, each run's items, its first
    item — and return what went wrong (a JavaScript error, a page that did not render); [] when all rendered."""
    from selenium.common.exceptions import TimeoutException  # noqa: PLC0415
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    problems: list[str] = []
    with chromium() as driver:

        def until(script: str) -> bool:
            try:
                WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(
                    lambda d: d.execute_script("return " + script))
                return True
            except TimeoutException:
                return False

        def errors(page: str) -> None:
            for entry in driver.get_log("browser"):
                if entry.get("level") == "SEVERE":
                    problems.append(f"{page}: {entry.get('message')}")

        driver.get(file_url(index))
        if not until("window.EK && EK.index && document.querySelector('main h1')"):
            problems.append("the leaderboard page did not render")
            errors("leaderboard")
            return problems
        errors("leaderboard")
        runs = driver.execute_script("return EK.index.runs.map(r => [r.key, r.model + ' ' + r.task + '/' + r.lang, "
                                     "r.n_items])")  # fmt: skip
        for key, name, n_items in runs:
            driver.get("about:blank")
            driver.get(file_url(index, f"run={key}"))
            if not until("document.querySelector('#shown-count') && document.querySelectorAll('#items tr.item')"
                         f".length === {min(200, n_items)}"):
                problems.append(f"{name}: the item list did not render")
            elif n_items:
                driver.get(file_url(index, f"run={key}&item=0"))
                if not until("document.querySelector('#detail #item-id')"):
                    problems.append(f"{name}: its first item did not render")
            errors(name)
    return problems
