"""Raw retention speed: delete the older half of N EverReach app_events (1M by default) with
the job's own code (`apply_retention`, batches of RETENTION_BATCH_ROWS), in rows/s.

    ANALYTICS_TEST_DATABASE=warehouse_bench_retention .venv/bin/python -m bench.retention [N]

Runs in its own database (default `warehouse_bench_retention`; it drops `raw` and `ops`
there), on a table shaped like the landed one: primary key, `_loaded_at` and
`occurred_at` indexes, jsonb props.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

import psycopg

from dagster_project.ingest.retention import RULES, apply_retention, batch_rows, horizon_for
from dagster_project.local import services

DAYS = 180  # the rows span 180 days; the 90-day window deletes half


def _database_url() -> str:
    database = os.environ.get("ANALYTICS_TEST_DATABASE", "warehouse_bench_retention")
    ports = services.start_postgres()
    with psycopg.connect(ports.postgres_url("postgres"), autocommit=True) as admin:
        if not admin.execute("select 1 from pg_database where datname = %s", [database]).fetchone():
            admin.execute(f'create database "{database}"')
    return ports.postgres_url(database)


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


def main(rows: int = 1_000_000) -> None:
    today = date(2026, 4, 1)
    rule = next(r for r in RULES if r.raw_table == "everreach__app_events")
    with psycopg.connect(_database_url()) as conn:
        _fill(conn, rows, today)
        conn.autocommit = True
        conn.execute("vacuum analyze raw.everreach__app_events")
        conn.autocommit = False
        limit = batch_rows()
        started = time.perf_counter()
        result = apply_retention(conn, rule, today, 90, limit)
        seconds = time.perf_counter() - started
        left = conn.execute("select count(*) from raw.everreach__app_events").fetchone()[0]
        conn.commit()
    print(
        f"retention of raw.everreach__app_events: {rows:,} rows over {DAYS} days, horizon "
        f"{horizon_for(today, 90)}: deleted {result.rows_deleted:,} in {result.batches} "
        f"batches of ≤{limit:,} in {seconds:.2f}s = {result.rows_deleted / seconds:,.0f} rows/s; "
        f"{left:,} rows left"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
