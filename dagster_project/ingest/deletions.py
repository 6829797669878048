"""Rows hard-deleted in an app database: found by comparing primary keys, marked in raw.

An incremental extract-load reads rows past a cursor, so a row deleted at the source is
never seen again and would stay in raw (and the marts) for good. For the tables whose rows
change (`SourceTable.detect_deletes`), each load also streams the source's primary keys
(keys only, block by block: memory stays flat) into a temporary table and compares them
with raw in two set-based updates, as Fivetran's `_fivetran_deleted` does:

- a raw row whose key the source no longer has gets `_deleted_at` (staging drops it);
- a marked row whose key is back (re-inserted) is unmarked.

Both also set `_loaded_at`, so the late-arrival sensor rebuilds the partitions they touch.
Only rows landed before the key scan started can be marked: a row landed while it ran
may be newer than the keys read.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from psycopg import sql

from dagster_project.ingest.source_tables import SourceTable

DELETED_AT = "_deleted_at"
KEY_BATCH_ROWS = 50_000


@dataclass
class DeletionCheck:
    keys_at_source: int = 0
    deleted: int = 0  # raw rows newly marked deleted
    restored: int = 0  # marked rows whose key came back


def detect_deletions(
    conn: psycopg.Connection, engine: sa.Engine, spec: SourceTable
) -> DeletionCheck:
    """Mark raw rows of `spec` whose primary key the source no longer holds; one commit."""
    raw = sql.Identifier("raw", spec.raw_table)
    keys = sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
    started = conn.execute("select now()").fetchone()[0]
    conn.execute(
        sql.SQL("create temp table source_keys on commit drop as select {} from {} limit 0").format(
            keys, raw
        )
    )
    check = DeletionCheck()
    copy_in = sql.SQL("copy source_keys ({}) from stdin").format(keys)
    if engine.dialect.name == "postgresql":
        check.keys_at_source = _copy_keys_from_postgres(conn, engine, spec, copy_in)
    else:
        check.keys_at_source = _stream_keys(conn, engine, spec, copy_in)
    conn.execute("analyze source_keys")
    match = sql.SQL(" and ").join(
        sql.SQL("k.{c} = r.{c}").format(c=sql.Identifier(c)) for c in spec.primary_key
    )
    check.deleted = conn.execute(
        sql.SQL(
            "update {raw} r set {deleted} = %(at)s, _loaded_at = %(at)s "
            "where r.{deleted} is null and r._loaded_at < %(at)s "
            "and not exists (select from source_keys k where {match})"
        ).format(raw=raw, deleted=sql.Identifier(DELETED_AT), match=match),
        {"at": started},
    ).rowcount
    check.restored = conn.execute(
        sql.SQL(
            "update {raw} r set {deleted} = null, _loaded_at = %(at)s "
            "where r.{deleted} is not null and exists (select from source_keys k where {match})"
        ).format(raw=raw, deleted=sql.Identifier(DELETED_AT), match=match),
        {"at": started},
    ).rowcount
    conn.commit()
    return check


def _copy_keys_from_postgres(conn, engine, spec: SourceTable, copy_in) -> int:
    """`COPY (select keys) TO STDOUT` piped into the warehouse's COPY: no Python per row."""
    table = sql.Identifier(*filter(None, [spec.schema, spec.table]))
    keys = sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
    copy_out = sql.SQL("copy (select {} from {}) to stdout").format(keys, table)
    with engine.connect() as source:
        src = source.connection.driver_connection
        with src.cursor().copy(copy_out) as out, conn.cursor().copy(copy_in) as into:
            for block in out:
                into.write(block)
    return conn.execute("select count(*) from source_keys").fetchone()[0]


def _stream_keys(conn, engine, spec: SourceTable, copy_in) -> int:
    """Any other SQLAlchemy source: a server-side cursor, copied batch by batch."""
    table = sa.table(spec.table, *[sa.column(c) for c in spec.primary_key], schema=spec.schema)
    count = 0
    with engine.connect() as source, conn.cursor().copy(copy_in) as into:
        stream = source.execution_options(stream_results=True, yield_per=KEY_BATCH_ROWS)
        for partition in stream.execute(sa.select(table)).partitions():
            for row in partition:
                into.write_row(row)
            count += len(partition)
    return count
