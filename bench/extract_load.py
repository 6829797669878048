"""The shared extract-load on one day of 1M YesGoddess-shaped events, against a bare COPY
of the same rows (issue 3, bench point 1). Source and warehouse are the bench database:
the app table lives in schema `bench_app`, so both sides pay the same server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bench.environment import Target
from bench.sections import BenchError
from bench.timing import progress, timed
from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SourceTable

SPEC = SourceTable("benchapp", "events", ("ingest_seq",), "created_at", timedelta(hours=1),
                   "bench_app")  # fmt: skip

FILL_SQL = """
drop schema if exists bench_app cascade;
create schema bench_app;
create table bench_app.events as
select i as ingest_seq,
       md5(i::text) as id,
       timestamptz '2026-11-01' + (i * interval '86 ms') as occurred_at,
       (array['web', 'mobile', 'api'])[1 + i % 3] as source,
       (array['asset_viewed', 'page_viewed', 'project_viewed', 'license_clicked'])[1 + i % 4]
           as event_type,
       'creator' as actor_type,
       'user_' || (i % 20000) as actor_id,
       'prj_' || (i % 500) as project_id,
       'ast_' || (i % 5000) as ip_asset_id,
       null::text as license_id,
       jsonb_build_object('engagementMs', i % 90000, 'country', 'US') as props_json,
       md5((i / 7)::text) as session_id,
       timestamptz '2026-11-01' + (i * interval '86 ms') + interval '2 s' as created_at
from generate_series(1::bigint, %(rows)s) as i;
alter table bench_app.events add primary key (ingest_seq);
create index on bench_app.events (created_at);
"""


@dataclass
class LoadTimes:
    rows: int
    el_s: float  # extract_load into an empty raw table, cursor stored, committed
    copy_s: float  # COPY TO STDOUT piped into COPY FROM STDIN of a bare table, committed


def _reset(target: Target) -> None:
    with target.connect(autocommit=True) as conn:
        conn.execute(f"drop table if exists raw.{SPEC.raw_table}")
        conn.execute("delete from ops.sync_state where id = %s", [SPEC.sync_id])
        conn.execute("drop table if exists bench_scratch.copy_floor_events")


def _bare_copy(target: Target) -> None:
    with target.connect() as src, target.connect() as dst:
        dst.execute("create schema if not exists bench_scratch")
        dst.execute(
            "create table bench_scratch.copy_floor_events (like bench_app.events)"
        )  # fmt: skip
        with (
            src.cursor().copy("copy bench_app.events to stdout") as out,
            dst.cursor().copy("copy bench_scratch.copy_floor_events from stdin") as into,
        ):
            for block in out:
                into.write(block)
        dst.commit()


def bench_extract_load(target: Target, rows: int, repeat: int) -> LoadTimes:
    with target.connect(autocommit=True) as conn:
        seconds, _ = timed(lambda: conn.execute(FILL_SQL.replace("%(rows)s", str(int(rows)))))
    progress(f"created bench_app.events with {rows:,} events of one day in {seconds:.1f}s "
             "(untimed)")  # fmt: skip
    el_runs, copy_runs = [], []
    engine = source_engine(target.warehouse_url)
    try:
        for i in range(max(1, repeat)):
            progress(f"repetition {i + 1}/{repeat}: extract-load, bare COPY ...")
            _reset(target)
            with target.connect() as conn:
                seconds, result = timed(lambda: extract_load(conn, engine, SPEC))
            if result.rows != rows:
                raise BenchError(f"extract-load landed {result.rows:,} of {rows:,} rows")
            el_runs.append(seconds)
            copy_runs.append(timed(lambda: _bare_copy(target))[0])
    finally:
        engine.dispose()
    return LoadTimes(rows, min(el_runs), min(copy_runs))
