"""Debian's Chromium and ChromeDriver for the browser tests, installed when missing.

Selenium drives the system `chromium` through the system `chromedriver` (Debian packages
`chromium` and `chromium-driver`), so no test tool downloads a browser of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from tests.debian_packages import PackageUnavailable, ensure_installed

PACKAGES = ("chromium", "chromium-driver")
# Without these, headless Chromium on a closed network keeps dialling Google's hosts.
QUIET_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # the tests may run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ChromiumUnavailable = PackageUnavailable


@dataclass(frozen=True)
class Chromium:
    browser: str  # path of the chromium binary
    driver: str  # path of chromedriver


def _find() -> Chromium | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Chromium(browser, driver) if browser and driver else None


def ensure_chromium() -> Chromium:
    """The installed Chromium and ChromeDriver, installing them with apt-get if missing."""
    return ensure_installed(
        PACKAGES, _find, "Chromium and chromedriver are needed by the browser tests"
    )


if __name__ == "__main__":
    print(ensure_chromium())
