"""Raw retention speed: delete the older half of N EverReach app_events (1M by default) with
the job's own code (`apply_retention`, batches of RETENTION_BATCH_ROWS), in rows/s, against
seed 003's `cleanup_old_events(days)` — one delete statement — on the same rows, in the
same run. Step 9 of `make bench`; alone:

    ANALYTICS_TEST_DATABASE=warehouse_bench_retention .venv/bin/python -m bench.retention [N]

Runs in its own database (default `warehouse_bench_retention`; it drops `raw` and `ops`
there), on a table shaped like the landed one: primary key, `_loaded_at` and
`occurred_at` indexes, jsonb props.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from dagster_project.ingest.retention import RULES, apply_retention, batch_rows, horizon_for
from dagster_project.local import services

DAYS = 180  # the rows span 180 days; the 90-day window deletes half
WINDOW_DAYS = 90
ROWS = 1_000_000
TODAY = date(2026, 4, 1)


def _database_url(server_url: str | None = None, database: str | None = None) -> str:
    """Its own database on the bench's server (the embedded one unless given): the
    bench drops `raw` there. `make bench` names it (never the tests' database); alone,
    ANALYTICS_TEST_DATABASE or the default."""
    database = database or os.environ.get("ANALYTICS_TEST_DATABASE", "warehouse_bench_retention")
    if server_url is None:
        server_url = services.start_postgres().postgres_url("postgres")
    with psycopg.connect(server_url, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", [database]).fetchone():
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{database}"))


def _fill(conn: psycopg.Connection, rows: int, today: date) -> None:
    conn.execute("drop schema if exists raw cascade")
    conn.execute("drop table if exists ops.retention_horizons")
    conn.execute("create schema raw")
    conn.execute(
        """create table raw.everreach__app_events (
               ingest_seq bigint primary key, id text not null, event_name text not null,
               user_id text, anonymous_id text, occurred_at timestamptz, context jsonb,
               properties jsonb, created_at timestamptz not null,
               _loaded_at timestamptz not null default now())"""
    )
    conn.execute(
        """insert into raw.everreach__app_events
           select n, md5(n::text), 'response_liked', 'u' || (n %% 5000), null,
               %(today)s::timestamptz - interval '180 days' * (n::float / %(rows)s),
               '{"app": "ios"}', jsonb_build_object('response_id', md5((n %% 9973)::text)),
               %(today)s::timestamptz - interval '180 days' * (n::float / %(rows)s)
           from generate_series(1, %(rows)s) as n""",
        {"rows": rows, "today": today},
    )
    for column in ("_loaded_at", "occurred_at"):
        conn.execute(
            f"create index everreach__app_events__{column}_idx "
            f"on raw.everreach__app_events ({column})"
        )
    conn.commit()


@dataclass
class RetentionBench:
    rows: int  # rows in the table before each delete
    horizon: date
    deleted: int  # by the job's batched deletes
    batches: int
    batch_limit: int
    seconds: float
    naive_deleted: int  # by the seed's one statement (cleanup_old_events(days))
    naive_seconds: float


def _refilled(conn: psycopg.Connection, rows: int) -> None:
    _fill(conn, rows, TODAY)
    conn.autocommit = True
    conn.execute("vacuum analyze raw.everreach__app_events")
    conn.autocommit = False


def bench_retention(
    rows: int = ROWS, server_url: str | None = None, database: str | None = None
) -> RetentionBench:
    """The job's batched deletes, then, on the same rows refilled, seed 003's way: one
    `delete … where occurred_at < horizon` in one transaction."""
    rule = next(r for r in RULES if r.raw_table == "everreach__app_events")
    horizon = horizon_for(TODAY, WINDOW_DAYS)
    with psycopg.connect(_database_url(server_url, database)) as conn:
        _refilled(conn, rows)
        limit = batch_rows()
        started = time.perf_counter()
        result = apply_retention(conn, rule, TODAY, WINDOW_DAYS, limit)
        seconds = time.perf_counter() - started
        _refilled(conn, rows)
        started = time.perf_counter()
        naive = conn.execute(
            "delete from raw.everreach__app_events where occurred_at < %s", [horizon]
        ).rowcount
        conn.commit()
        naive_seconds = time.perf_counter() - started
    return RetentionBench(rows, horizon, result.rows_deleted, result.batches, limit, seconds,
                          naive, naive_seconds)  # fmt: skip


def main(rows: int = ROWS) -> None:
    t = bench_retention(rows)
    print(
        f"retention of raw.everreach__app_events: {t.rows:,} rows over {DAYS} days, horizon "
        f"{t.horizon}: deleted {t.deleted:,} in {t.batches} batches of ≤{t.batch_limit:,} in "
        f"{t.seconds:.2f}s = {t.deleted / t.seconds:,.0f} rows/s; one statement (seed 003's "
        f"way) {t.naive_deleted:,} in {t.naive_seconds:.2f}s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS)
