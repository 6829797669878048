"""Which event days received rows since a moment: the input of the late-arrival sensor."""

from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg import sql

from dagster_project.ingest.source_tables import SourceTable


def landed_days(
    conn: psycopg.Connection, spec: SourceTable, since: datetime | None, first_day: date
) -> tuple[dict[date, datetime], datetime | None]:
    """{UTC event day: newest `_loaded_at` of its rows} for rows of `raw.<spec>` landed
    after `since` (all rows when None), and the newest `_loaded_at` overall. Uses the
    `_loaded_at` index, so a tick costs what landed, not what is stored.

    Only days from `first_day` (the first partition) to tomorrow count: staging quarantines
    the rest, and an event time of `infinity` or year 0 has no Python date at all."""
    if not conn.execute("select to_regclass(%s)", [f"raw.{spec.raw_table}"]).fetchone()[0]:
        return {}, since
    rows = conn.execute(
        sql.SQL(
            "select ({event} at time zone 'utc')::date, max(_loaded_at) from raw.{table} "
            "where _loaded_at > coalesce(%s::timestamptz, '-infinity') "
            "and {event} >= %s::timestamp at time zone 'utc' "
            "and {event} < now() + interval '2 days' group by 1"
        ).format(event=sql.Identifier(spec.event_time), table=sql.Identifier(spec.raw_table)),
        [since, first_day],
    ).fetchall()
    newest = max((loaded for _, loaded in rows), default=since)
    return dict(rows), newest
