"""Where the bench runs: database `bench` on the embedded server (or WAREHOUSE_URL as the
user set it) and a dedicated Redis key prefix, so no other data is ever touched."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import redis

from dagster_project.ingest.redis_gifts import GiftKeys
from dagster_project.local import services
from dagster_project.local.environment import apply_env

BENCH_DB = "bench"
PREFIX = "bench:gift:analytics:"
COUNTER_PREFIX = "bench:gift:campaign:"


@dataclass(frozen=True)
class Target:
    warehouse_url: str  # plain postgresql:// URL for psycopg
    redis_url: str
    keys: GiftKeys
    user_url: bool  # WAREHOUSE_URL came from the user, not the embedded server

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


def resolve() -> Target:
    """Point WAREHOUSE_URL at the bench database *before* apply_env derives dbt's variables."""
    user_url = bool(os.environ.get("WAREHOUSE_URL"))
    if not user_url:
        os.environ["WAREHOUSE_URL"] = _embedded_bench_url()
    urls = apply_env(dagster_home=False)
    url = urls["WAREHOUSE_URL"].replace("postgresql+psycopg://", "postgresql://")
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
