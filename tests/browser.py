"""Debian's chromium driven through chromium-driver (Selenium), headless, a fresh profile each.

A test tool's own browser download fails here; these are the system's binaries, which CI
installs (apt: chromium, chromium-driver). Without them the browser tests skip, naming why.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
)
WINDOW_WIDTH = 900


@contextmanager
def chromium(window_height: int = 1200) -> Iterator[Any]:
    """A headless chromium session with a profile of its own, quit afterwards."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (apt: chromium chromium-driver)")
    with tempfile.TemporaryDirectory(prefix="gl-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            *HEADLESS_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW_WIDTH},{window_height}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


def full_page_png(driver: Any, path: Path, max_height: int) -> None:
    """A screenshot of the page from the top, as tall as the page (at most max_height px)."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WINDOW_WIDTH, min(height, max_height))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
