"""Where the bench runs: database `bench` on the embedded server (or WAREHOUSE_URL as the
user set it) and a dedicated Redis key prefix, so no other data is ever touched.

The smoke run (`--smoke`) gets a fresh database of its own each time, on the server of
WAREHOUSE_URL when set (named after its database: `<db>_bench_smoke`, so the tests'
`warehouse_test` gives `warehouse_test_bench_smoke`), else `bench_smoke` on the embedded
server, its own Redis key prefix, and keeps its app data in that database too."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from dagster_project.ingest.redis_gifts import GiftKeys
from dagster_project.local import services
from dagster_project.local.environment import apply_env

BENCH_DB = "bench"
PREFIX = "bench:gift:analytics:"
COUNTER_PREFIX = "bench:gift:campaign:"
RETENTION_DB = "warehouse_bench_retention"  # bench/retention.py drops `raw` there
SMOKE_DB = "bench_smoke"
SMOKE_PREFIX = "bench:smoke:gift:analytics:"
SMOKE_COUNTER_PREFIX = "bench:smoke:gift:campaign:"


@dataclass(frozen=True)
class Target:
    warehouse_url: str  # plain postgresql:// URL for psycopg
    redis_url: str
    keys: GiftKeys
    user_url: bool  # WAREHOUSE_URL came from the user, not the embedded server
    counter_prefix: str = COUNTER_PREFIX
    smoke: bool = False  # a fresh database of its own, which also holds the app data
    retention_database: str = RETENTION_DB

    @property
    def database(self) -> str:
        return urlsplit(self.warehouse_url).path.lstrip("/")

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(
            self.warehouse_url, autocommit=autocommit, application_name="analytics-bench"
        )

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


def _embedded_bench_url() -> str:
    ports = services.start_postgres()
    with psycopg.connect(ports.postgres_url("postgres"), autocommit=True) as conn:
        found = conn.execute("select 1 from pg_database where datname = %s", [BENCH_DB]).fetchone()
        if not found:
            # a concurrent bench may have just created it: fine
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(f'create database "{BENCH_DB}"')
    return ports.postgres_url(BENCH_DB)


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def _fresh_smoke_url() -> str:
    """Drop and create the smoke database (WAREHOUSE_URL's server, or the embedded one)."""
    given = os.environ.get("WAREHOUSE_URL", "").replace("postgresql+psycopg://", "postgresql://")
    if given:
        name = f"{urlsplit(given).path.lstrip('/')}_{SMOKE_DB}"[:63]
        server = given
    else:
        name, server = SMOKE_DB, services.start_postgres().postgres_url("postgres")
    with psycopg.connect(server, autocommit=True) as conn:
        for database in (name, smoke_retention_database(name)):  # retention makes its own
            conn.execute(f'drop database if exists "{database}" with (force)')
        conn.execute(f'create database "{name}"')
    return _with_database(given or server, name)


def smoke_retention_database(smoke_database: str) -> str:
    return f"{smoke_database}_retention"[:63]


def resolve(smoke: bool = False) -> Target:
    """Point WAREHOUSE_URL at the bench database *before* apply_env derives dbt's variables."""
    user_url = bool(os.environ.get("WAREHOUSE_URL"))
    if smoke:
        os.environ["WAREHOUSE_URL"] = _fresh_smoke_url()
    elif not user_url:
        os.environ["WAREHOUSE_URL"] = _embedded_bench_url()
    urls = apply_env(dagster_home=False)
    url = urls["WAREHOUSE_URL"].replace("postgresql+psycopg://", "postgresql://")
    if smoke:
        database = urlsplit(url).path.lstrip("/")
        return Target(url, urls["REDIS_URL"], GiftKeys(SMOKE_PREFIX), user_url,
                      SMOKE_COUNTER_PREFIX, True, smoke_retention_database(database))  # fmt: skip
    return Target(url, urls["REDIS_URL"], GiftKeys(PREFIX), user_url)


def refuse_foreign_data(target: Target, force: bool) -> None:
    """The bench truncates raw.gift_analytics and rebuilds the gift marts. On a user-given
    database not named `bench` that already holds gifts, refuse unless --force."""
    if force or target.database == BENCH_DB:
        return
    with target.connect() as conn:
        exists = conn.execute("select to_regclass('raw.gift_analytics')").fetchone()[0]
        rows = exists and conn.execute("select exists (select from raw.gift_analytics)")
        if rows and rows.fetchone()[0]:
            raise SystemExit(
                f"bench: WAREHOUSE_URL points at database {target.database!r}, whose "
                "raw.gift_analytics holds data; the bench would truncate it and rebuild the "
                "gift marts. Point WAREHOUSE_URL at a scratch database (e.g. .../bench) "
                "or pass --force."
            )
