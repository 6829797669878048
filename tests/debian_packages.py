"""Debian packages the tests need (Chromium for the browser test, MariaDB for the Wallet's
MySQL source), installed with apt-get when missing: a missing one fails loudly, never
skips."""

from __future__ import annotations

import os
import shutil
import subprocess

INSTALL_TIMEOUT_S = 900


class PackageUnavailable(RuntimeError):
    """A Debian package the tests need is missing and could not be installed."""


def _apt_prefix(packages: tuple[str, ...]) -> list[str]:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]  # never prompt: a test cannot type a password
    raise PackageUnavailable(
        f"{' '.join(packages)} missing and this user (uid {os.geteuid()}) is not root and has "
        f"no sudo: install the Debian packages (`apt-get install -y {' '.join(packages)}`) "
        "and run the tests again."
    )


def _run(cmd: list[str], packages: tuple[str, ...], why: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PackageUnavailable(f"`{' '.join(cmd)}` did not complete: {exc}") from exc
    if result.returncode != 0:
        raise PackageUnavailable(
            f"`{' '.join(cmd)}` exited with {result.returncode}; {why} (Debian packages "
            f"{' '.join(packages)}).\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )


def ensure_installed(packages: tuple[str, ...], present, why: str):
    """`present()` (what the caller needs, or None), installing `packages` first if it is
    None. `why` says which tests need them."""
    found = present()
    if found:
        return found
    if not shutil.which("apt-get"):
        raise PackageUnavailable(
            f"{why}, and there is no apt-get to install them: install {' '.join(packages)} by hand."
        )
    prefix = _apt_prefix(packages)
    lock_wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt may be running
    _run([*prefix, "apt-get", *lock_wait, "update", "-q"], packages, why)
    _run([*prefix, "apt-get", *lock_wait, "install", "-y", "-q", "--no-install-recommends",
          *packages], packages, why)  # fmt: skip
    found = present()
    if not found:
        raise PackageUnavailable(
            f"apt-get installed {' '.join(packages)} but they are still not on PATH "
            f"({os.environ.get('PATH')})"
        )
    return found
