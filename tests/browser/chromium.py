"""Debian's Chromium and ChromeDriver for the browser tests, installed when missing.

Selenium drives the system `chromium` through the system `chromedriver` (Debian packages
`chromium` and `chromium-driver`), so no test tool downloads a browser of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT_S = 900
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


class ChromiumUnavailable(RuntimeError):
    """Chromium or ChromeDriver is missing and could not be installed."""


@dataclass(frozen=True)
class Chromium:
    browser: str  # path of the chromium binary
    driver: str  # path of chromedriver


def _find() -> Chromium | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Chromium(browser, driver) if browser and driver else None


def _apt_command() -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]  # never prompt: a test cannot type a password
    raise ChromiumUnavailable(
        f"Chromium is missing and this user (uid {os.geteuid()}) is not root and has no "
        f"sudo: install the Debian packages {' '.join(PACKAGES)} "
        f"(`apt-get install -y {' '.join(PACKAGES)}`) and run the tests again."
    )


def _run(cmd: list[str]) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChromiumUnavailable(f"`{' '.join(cmd)}` did not complete: {exc}") from exc
    if result.returncode != 0:
        raise ChromiumUnavailable(
            f"`{' '.join(cmd)}` exited with {result.returncode}; Chromium is needed by the "
            f"browser tests (Debian packages {' '.join(PACKAGES)}).\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )


def ensure_chromium() -> Chromium:
    """The installed Chromium and ChromeDriver, installing them with apt-get if missing."""
    found = _find()
    if found:
        return found
    if not shutil.which("apt-get"):
        raise ChromiumUnavailable(
            "Chromium and chromedriver are not on PATH and there is no apt-get to install "
            f"them: install {' '.join(PACKAGES)} (or Chromium + a matching ChromeDriver)."
        )
    prefix = _apt_command()
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt may be running
    _run([*prefix, "apt-get", *lock_wait, "update", "-q"])
    _run([*prefix, "apt-get", *lock_wait, "install", "-y", "-q", "--no-install-recommends",
          *PACKAGES])  # fmt: skip
    found = _find()
    if not found:
        raise ChromiumUnavailable(
            f"apt-get installed {' '.join(PACKAGES)} but chromium/chromedriver are still "
            f"not on PATH ({os.environ.get('PATH')})"
        )
    return found


if __name__ == "__main__":
    print(ensure_chromium())
