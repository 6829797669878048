"""A real MariaDB for the Wallet's MySQL-source tests: MYSQL_TEST_URL when it is set,
otherwise Debian's mariadb-server (installed when missing) started on a free loopback
port under a temp dir, with its global time_zone at +05:30 (the Wallet's India), so a
test that lands times shows they arrive as UTC instants whatever the server's zone."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from tests.debian_packages import PackageUnavailable, ensure_installed

PACKAGES = ("mariadb-server", "mariadb-client")
SERVER_TIME_ZONE = "+05:30"


def _binaries() -> tuple[str, str] | None:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin")
    install = shutil.which("mariadb-install-db")
    return (server, install) if server and install else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateMariaDB:
    """mariadbd in a temp dir on 127.0.0.1, root without a password; gone after stop()."""

    def __init__(self):
        self.server, self.install_db = ensure_installed(
            PACKAGES, _binaries, "MariaDB is needed by the Wallet's MySQL-source tests"
        )
        self.workdir = Path(tempfile.mkdtemp(prefix="tests-mariadb-"))
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        data, user = self.workdir / "data", "root" if os.geteuid() == 0 else None
        user_args = [f"--user={user}"] if user else []
        subprocess.run(
            [self.install_db, "--no-defaults", f"--datadir={data}", *user_args,
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.process = subprocess.Popen(
            [self.server, "--no-defaults", f"--datadir={data}", *user_args,
             f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
             f"--socket={self.workdir / 'mysqld.sock'}", f"--log-error={self.log_path}",
             f"--pid-file={self.workdir / 'mysqld.pid'}", f"--default-time-zone={SERVER_TIME_ZONE}",
             "--innodb-buffer-pool-size=256M", "--innodb-flush-log-at-trx-commit=2"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._wait_ready()

    @property
    def log_path(self) -> Path:
        return self.workdir / "mysqld.err"

    def _wait_ready(self) -> None:
        engine = sa.create_engine(self.url())
        try:
            for _ in range(300):
                if self.process.poll() is not None:
                    break
                try:
                    with engine.connect():
                        return
                except sa.exc.OperationalError:
                    time.sleep(0.1)
        finally:
            engine.dispose()
        log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
        raise PackageUnavailable(f"MariaDB did not start on port {self.port}:\n{log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextlib.contextmanager
def server_url() -> Iterator[str]:
    """A MySQL-family server's URL without a database: MYSQL_TEST_URL (one the caller may
    create databases on), else a private MariaDB, stopped afterwards."""
    if os.environ.get("MYSQL_TEST_URL"):
        yield os.environ["MYSQL_TEST_URL"].rstrip("/")
        return
    server = PrivateMariaDB()
    server.start()
    try:
        yield server.url().rstrip("/")
    finally:
        server.stop()
