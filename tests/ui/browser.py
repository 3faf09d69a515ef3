"""Start Debian's headless Chromium under Selenium (for the browser tests and the screenshot script)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]
"""Without the network-related flags, Chromium keeps trying to reach Google's services and stalls offline."""


class BrowserMissing(RuntimeError):
    pass


def start_chromium(profile_dir: Path) -> Any:
    """A Selenium driver of a fresh headless Chromium profile that records the browser console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        raise BrowserMissing(
            f"the browser tests need Debian's chromium and chromium-driver ({', '.join(missing)} missing); "
            "`nox -s tests` installs them as root, or run: apt-get install -y chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    return driver
