"""Incremental extract-load from an app database (any SQLAlchemy URL) into `raw`.

One mechanism for every declared table: stream the rows past the stored cursor through
a server-side cursor (constant memory), COPY them in chunks into a temp table, upsert
each chunk by primary key, and store the new cursor in ops.sync_state in the same
transaction — so the cursor never runs ahead of the data. A column added to the source
is added to `raw` before the rows that carry it land.

A batch lands inside a savepoint; if one of its rows breaks it (a NULL or repeated primary
key, a value the raw column's type cannot hold), the batch is read again through the
validating path (source_rejects.py): the bad rows go to quarantine.source_rows with a
reason, the rest lands, and the cursor moves past them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime

import psycopg
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql

from dagster_project.ingest import mysql_source, source_rejects, sync_state
from dagster_project.ingest.deletions import DELETED_AT
from dagster_project.ingest.read_ahead import ReadAhead
from dagster_project.ingest.source_tables import SOURCE_TABLES, SourceTable
from dagster_project.ingest.warehouse_tables import ensure_tables

CHUNK_ROWS = 50_000
LOADED_AT = "_loaded_at"  # when the extract-load last wrote the row (late-arrival detection)


@dataclass
class LoadResult:
    rows: int = 0  # rows read past the cursor (overlap included) and upserted
    cursor_before: str | None = None
    cursor_after: str | None = None
    added_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)  # in raw, gone at the source
    quarantined: int = 0  # rows read but rejected into quarantine.source_rows


# URL schemes without a driver → the driver the project installs
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}


def source_engine(url: str) -> sa.Engine:
    """PostgreSQL URLs go through psycopg 3, MySQL/MariaDB ones through PyMySQL (project
    dependencies) in a UTC session; others as given."""
    scheme, sep, rest = url.partition("://")
    url = f"{_DRIVERS.get(scheme, scheme)}{sep}{rest}"
    backend = sa.engine.make_url(url).get_backend_name()
    connect_args = mysql_source.CONNECT_ARGS if backend in ("mysql", "mariadb") else {}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def source_column_types(engine: sa.Engine, spec: SourceTable) -> dict[str, sa.types.TypeEngine]:
    """Column name → the source's own type, from its catalog."""
    try:
        columns = sa.inspect(engine).get_columns(spec.table, schema=spec.schema)
    except sa.exc.NoSuchTableError:
        columns = []
    if not columns:
        where = f", schema {spec.schema!r}" if spec.schema else ""
        raise LookupError(
            f"{spec.system}: table {spec.table!r} not found in {spec.url_env} "
            f"({engine.url.render_as_string(hide_password=True)}{where}); create it there "
            f"(docs/SOURCES.md has its columns) or point {spec.url_env} at the database "
            "that holds it. Nothing was landed for it, and its cursor did not move."
        )
    return {c["name"]: c["type"] for c in columns}


def source_columns(engine: sa.Engine, spec: SourceTable) -> dict[str, str]:
    """Column name → PostgreSQL type for the raw table."""
    types = source_column_types(engine, spec)
    if mysql_source.is_mysql(engine):
        json_cols = mysql_source.json_columns(engine, spec)
        return {
            name: mysql_source.pg_type(t, name in json_cols) or _pg_type(t)
            for name, t in types.items()
        }
    return {name: _pg_type(t) for name, t in types.items()}


def _pg_type(column_type: sa.types.TypeEngine) -> str:
    if isinstance(column_type, sa.JSON):  # staging reads jsonb; json would fail there later
        return "JSONB"
    try:
        return column_type.compile(dialect=postgresql.dialect())
    except Exception:  # a source type PostgreSQL has no name for lands as text
        return "text"


def _since(spec: SourceTable, last_cursor: str | None):
    """The stored cursor minus the overlap, typed like the cursor column."""
    if last_cursor is None:
        return None
    if isinstance(spec.overlap, int):
        return int(last_cursor) - spec.overlap
    return datetime.fromisoformat(last_cursor) - spec.overlap


def ensure_raw_table(conn: psycopg.Connection, spec: SourceTable, columns: dict) -> list[str]:
    """Create raw.<system>__<table>, or add the columns the source gained; returns them."""
    table = sql.Identifier("raw", spec.raw_table)
    exists = conn.execute("select to_regclass(%s)", [f"raw.{spec.raw_table}"]).fetchone()[0]
    if not exists:
        defs = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns.items()]
        defs.append(
            sql.SQL("{} timestamptz not null default now()").format(sql.Identifier(LOADED_AT))
        )
        defs.append(sql.SQL("primary key ({})").format(_idents(spec.primary_key)))
        conn.execute(sql.SQL("create table {} ({})").format(table, sql.SQL(", ").join(defs)))
        _ensure_indexes(conn, spec)
        _ensure_deleted_column(conn, spec)
        return []
    _ensure_indexes(conn, spec)
    landed = _landed_columns(conn, spec)
    if DELETED_AT not in landed:  # ALTER locks the table: only when it is missing
        _ensure_deleted_column(conn, spec)
    added = [c for c in columns if c not in landed]
    for col in added:
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                table, sql.Identifier(col), sql.SQL(columns[col])
            )
        )
    return added


def _ensure_deleted_column(conn: psycopg.Connection, spec: SourceTable) -> None:
    """`_deleted_at` on the tables checked for hard deletes (ingest/deletions.py)."""
    if spec.detect_deletes:
        conn.execute(
            sql.SQL("alter table {} add column if not exists {} timestamptz").format(
                sql.Identifier("raw", spec.raw_table), sql.Identifier(DELETED_AT)
            )
        )


def _landed_columns(conn: psycopg.Connection, spec: SourceTable) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'raw' and table_name = %s",
            [spec.raw_table],
        )
    }


def missing_columns(conn: psycopg.Connection, spec: SourceTable, columns) -> list[str]:
    """Raw columns the source no longer has (dropped or renamed there): the rows that
    land from now on have them NULL, which would pass unnoticed without a warning."""
    return sorted(_landed_columns(conn, spec) - set(columns) - {LOADED_AT, DELETED_AT})


def _ensure_indexes(conn: psycopg.Connection, spec: SourceTable) -> None:
    for column in spec.raw_indexes:
        conn.execute(
            sql.SQL("create index if not exists {} on {} ({})").format(
                sql.Identifier(f"{spec.raw_table}__{column}_idx"),
                sql.Identifier("raw", spec.raw_table),
                sql.Identifier(column),
            )
        )


def _as_text(alias: str, columns: list[str]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(alias, c)) for c in columns)


def _idents(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _upsert(conn: psycopg.Connection, spec: SourceTable, columns: list[str]) -> sql.Composed:
    updates = [
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c))
        for c in columns
        if c not in spec.primary_key
    ]
    updates.append(sql.SQL("{} = now()").format(sql.Identifier(LOADED_AT)))
    # A row re-read in the overlap window and unchanged keeps its _loaded_at, so only
    # real arrivals and changes look new to the late-arrival sensor.
    return sql.SQL(
        "insert into {table} as landed ({cols}) select {cols} from el_batch "
        "on conflict ({pk}) do update set {updates} "
        "where ({landed_cols}) is distinct from ({excluded_cols})"
    ).format(
        table=sql.Identifier("raw", spec.raw_table),
        cols=_idents(columns),
        pk=_idents(spec.primary_key),
        updates=sql.SQL(", ").join(updates),
        # compared as text: json (unlike jsonb) has no equality operator
        landed_cols=_as_text("landed", columns),
        excluded_cols=_as_text("excluded", columns),
    )


def _copy_types(
    conn: psycopg.Connection, spec: SourceTable, columns: list[str], as_text=frozenset()
) -> list[int]:
    """The raw columns' type oids, so COPY picks the right dumper (a dict → jsonb, …);
    a type psycopg does not know, or a column in `as_text` (its values are already the
    column's text), goes as text, which the server parses itself."""
    oids = dict(
        conn.execute(
            "select attname, atttypid::int from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            [f"raw.{spec.raw_table}"],
        ).fetchall()
    )
    text = conn.adapters.types["text"].oid
    return [
        oids[c] if c not in as_text and conn.adapters.types.get(oids[c]) else text for c in columns
    ]


def _copy_in(target: str, columns: list[str]) -> sql.Composed:
    return sql.SQL("copy {} ({}) from stdin").format(sql.Identifier(target), _idents(columns))


def _land_batch(conn, spec: SourceTable, columns: list[str], fill: Callable[[str], None]):
    """The fast path, COPY + upsert, in a savepoint; a bad row aborts it, and the
    validating path then reads the batch again (`fill` writes it into the table named),
    quarantines the bad rows and lands the rest. Returns (landed, quarantined)."""
    upsert = _upsert(conn, spec, columns)
    conn.execute("savepoint el_fast")
    try:
        fill("el_batch")
        landed = conn.execute(upsert).rowcount
    except source_rejects.REJECTABLE:
        conn.execute("rollback to savepoint el_fast")
        return source_rejects.land_valid(conn, spec, columns, fill, upsert)
    conn.execute("release savepoint el_fast")
    return landed, 0


def _text_row(columns: list[str], row) -> list:
    """A streamed row for el_text (all text): JSON as JSON text; a NUL, which PostgreSQL
    text cannot hold, escaped as `\\x00` and noted in _el_reason so the row is quarantined."""
    values, nul = [], []
    for column, value in zip(columns, row, strict=True):
        if isinstance(value, dict | list):
            value = json.dumps(value)
        if isinstance(value, mysql_source.ZeroDate):
            nul.append(mysql_source.zero_date_reason(column, value))
        if isinstance(value, str) and "\x00" in value:
            value = value.replace("\x00", "\\x00")
            shown = value[: source_rejects.SHOWN_CHARS]
            nul.append(f"{column}='{shown}' holds a NUL character, which PostgreSQL text cannot")
        values.append(value)
    return [*values, "; ".join(nul) or None]


def _write_chunk(conn, target: str, columns: list[str], types: list[int], rows) -> None:
    """el_batch gets the values typed, el_text (the validating path) as text."""
    conn.execute(sql.SQL("truncate {}").format(sql.Identifier(target)))
    typed = target == "el_batch"
    names = columns if typed else [*columns, source_rejects.NOTE]
    with conn.cursor().copy(_copy_in(target, names)) as copy:
        write_row = copy.write_row  # once per chunk: the loop below runs once per row
        if typed:
            copy.set_types(types)
            for row in rows:
                write_row(row)
        else:
            for row in rows:
                write_row(_text_row(columns, row))


def _land_chunk(conn, spec, columns: list[str], types: list[int], rows, busy=nullcontext):
    """`busy()` around the COPY, the writer's own Python work (read_ahead.py)."""

    def fill(target: str) -> None:
        with busy():
            _write_chunk(conn, target, columns, types, rows)

    return _land_batch(conn, spec, columns, fill)


def extract_load(
    conn: psycopg.Connection, engine: sa.Engine, spec: SourceTable, chunk_rows: int = CHUNK_ROWS
) -> LoadResult:
    """Land every row of `spec` past its cursor; refuses while another run of it is active."""
    ensure_tables(conn)
    sync_state.acquire(conn, spec.sync_id)
    try:
        result = _extract_load(conn, engine, spec, chunk_rows)
        sync_state.record_success(
            conn,
            spec.sync_id,
            last_cursor=result.cursor_after,
            items_processed=result.rows,
            items_quarantined=result.quarantined,
        )
        return result
    except BaseException as exc:
        sync_state.record_failure(conn, spec.sync_id, exc)
        raise
    finally:
        sync_state.release(conn, spec.sync_id)


def extract_load_system(
    conn: psycopg.Connection, source_url: str, system: str, *, schema: str | None = None
) -> dict[str, LoadResult]:
    """Land every declared table of one app, read from `schema` of its database when given
    (the tests and benches simulate each app into a schema of one database)."""
    specs = [spec for spec in SOURCE_TABLES if spec.system == system]
    if not specs:
        raise ValueError(f"system={system!r} declares no table in ingest/source_tables.py")
    engine = source_engine(source_url)
    try:
        return {
            spec.table: extract_load(conn, engine, replace(spec, schema=schema or spec.schema))
            for spec in specs
        }
    finally:
        engine.dispose()


def _stored_cursor(conn: psycopg.Connection, spec: SourceTable) -> str | None:
    row = conn.execute(
        "select last_cursor from ops.sync_state where id = %s", [spec.sync_id]
    ).fetchone()
    conn.commit()
    return row[0] if row else None


def _extract_load(conn, engine, spec: SourceTable, chunk_rows: int) -> LoadResult:
    result = LoadResult(cursor_before=_stored_cursor(conn, spec))
    sync_state.record(conn, spec.sync_id, "running")
    # a source timestamp without a time zone lands as UTC (docs/SOURCES.md), whatever the
    # warehouse's own time zone setting
    conn.execute("set local time zone 'UTC'")
    types_by_column = source_columns(engine, spec)
    result.added_columns = ensure_raw_table(conn, spec, types_by_column)
    result.missing_columns = missing_columns(conn, spec, types_by_column)
    conn.execute(
        sql.SQL("create temp table el_batch (like {} including defaults) on commit drop").format(
            sql.Identifier("raw", spec.raw_table)
        )
    )
    since = _since(spec, result.cursor_before)
    read = _copy_from_postgres if engine.dialect.name == "postgresql" else _stream_rows
    (result.rows, result.quarantined), newest, source_now = read(
        conn, engine, spec, list(types_by_column), since, chunk_rows
    )
    result.cursor_after = _next_cursor(spec, result.cursor_before, newest, source_now)
    return result


def _copy_from_postgres(conn, engine, spec: SourceTable, columns, since, _chunk_rows):
    """PostgreSQL → PostgreSQL: `COPY … TO STDOUT` piped into `COPY … FROM STDIN`, block by
    block — no Python per row. The newest cursor is read in the same REPEATABLE READ
    snapshot as the COPY, so it never names a row the COPY did not see."""
    table = sql.Identifier(*filter(None, [spec.schema, spec.table]))
    where, params = sql.SQL(""), []
    if since is not None:
        where, params = sql.SQL(" where {} >= %s").format(sql.Identifier(spec.cursor)), [since]
    snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
    with snapshot as source, source.begin():
        src = source.connection.driver_connection  # the psycopg connection under it
        newest, source_now = src.execute(
            sql.SQL("select {}, current_timestamp from {}{}").format(_newest(spec), table, where),
            params,
        ).fetchone()
        copy_out = sql.SQL("copy (select {} from {}{}) to stdout").format(
            _idents(columns), table, where
        )

        def fill(target: str) -> None:  # the same snapshot each time: the same rows
            copy_in = _copy_in(target, columns)
            _pipe(src.cursor().copy(copy_out, params), conn.cursor().copy(copy_in))

        counts = _land_batch(conn, spec, columns, fill)
    return counts, newest, source_now


def _newest(spec: SourceTable) -> sql.Composable:
    """max(cursor); a timestamp cursor skips ±infinity, which Python cannot hold (the
    rows still land: staging judges them)."""
    cursor = sql.Identifier(spec.cursor)
    if isinstance(spec.overlap, int):
        return sql.SQL("max({})").format(cursor)
    return sql.SQL("max({0}) filter (where isfinite({0}))").format(cursor)


def _pipe(copy_out, copy_in) -> None:
    """Source COPY blocks straight into the warehouse COPY. If the warehouse refuses the
    batch, the rest of the source stream is drained, so the snapshot stays usable for
    the validating path's second read."""
    with copy_out as out:
        blocks = iter(out)
        try:
            with copy_in as into:
                for block in blocks:
                    into.write(block)
        except psycopg.Error:
            for _ in blocks:
                pass
            raise


def _stream_rows(conn, engine, spec: SourceTable, columns, since, chunk_rows):
    """Any other SQLAlchemy source: a server-side cursor, landed chunk by chunk."""
    if mysql_source.is_mysql(engine):
        return _stream_mysql(conn, engine, spec, columns, since, chunk_rows)
    table = _source_table(spec, columns)
    query = sa.select(table)
    if since is not None:
        query = query.where(table.c[spec.cursor] >= since)
    with engine.connect() as source:
        source_now = source.execute(sa.select(sa.func.current_timestamp())).scalar_one()
        stream = source.execution_options(stream_results=True, yield_per=chunk_rows)
        counts, newest = _land_chunks(conn, spec, columns, stream.execute(query).partitions())
    return counts, newest, source_now


def _stream_mysql(conn, engine, spec: SourceTable, columns, since, chunk_rows):
    """MySQL/MariaDB: PyMySQL's unbuffered cursor read on a thread (read_ahead.py) while
    the chunk before is COPYed and upserted — reading the source and writing the warehouse
    overlap instead of taking turns. Its times are naive: they are made instants."""
    source_types = source_column_types(engine, spec)
    zone = mysql_source.datetime_zone(spec)
    json_cols = mysql_source.json_columns(engine, spec)
    json_flags = [c in json_cols or isinstance(source_types[c], sa.JSON) for c in columns]
    convert = mysql_source.row_converter([source_types[c] for c in columns], json_flags)
    decoders = mysql_source.time_decoders(zone)
    as_text = {c for c, is_json in zip(columns, json_flags, strict=True) if is_json}
    table = _source_table(spec, columns)
    query = sa.select(table)
    if since is not None:
        bound = mysql_source.source_bound(since, source_types[spec.cursor], zone)
        query = query.where(table.c[spec.cursor] >= bound)
    ahead = ReadAhead()
    with engine.connect() as source:
        now = source.execute(sa.select(sa.func.current_timestamp())).scalar_one()
        chunks = ahead.chunks(
            lambda checkpoint: mysql_source.stream_chunks(
                source, query, convert, decoders, chunk_rows, checkpoint
            )
        )
        try:
            counts, newest = _land_chunks(conn, spec, columns, chunks, as_text, ahead.writer_busy)
        except Exception:
            if not source.connection.driver_connection.open:
                source.invalidate()  # else the pool's rollback on the dead socket hides why
            raise
        finally:
            chunks.close()  # the reader stopped before the connection goes back to the pool
    return counts, newest, mysql_source.source_now(now)


def _source_table(spec: SourceTable, columns) -> sa.TableClause:
    return sa.table(spec.table, *[sa.column(c) for c in columns], schema=spec.schema)


def _land_chunks(conn, spec, columns, chunks, as_text=frozenset(), busy=nullcontext):
    """Land each chunk; returns ((landed, quarantined), the newest cursor value read)."""
    types = _copy_types(conn, spec, columns, as_text)
    position = columns.index(spec.cursor)
    rows, quarantined, newest = 0, 0, None
    for partition in chunks:
        rejected = _land_chunk(conn, spec, columns, types, partition, busy)[1]
        rows, quarantined = rows + len(partition) - rejected, quarantined + rejected
        values = [
            row[position]
            for row in partition
            if row[position] is not None and not isinstance(row[position], mysql_source.ZeroDate)
        ]
        if values:
            newest = max([newest, *values]) if newest is not None else max(values)
    return (rows, quarantined), newest


def _next_cursor(spec: SourceTable, before: str | None, newest, source_now) -> str | None:
    """The newest cursor read, capped at the source's clock, never behind the stored one:
    a row stamped in the future (a broken clock) is re-read each run instead of making
    every later row look old."""
    if newest is None:
        return before
    if isinstance(newest, datetime):
        if isinstance(source_now, datetime):  # some drivers (SQLite) answer with text
            if newest.tzinfo is None:  # a naive timestamp column: compare on one footing
                source_now = source_now.replace(tzinfo=None)
            newest = min(newest, source_now)
        if before is not None:
            newest = max(newest, datetime.fromisoformat(before))
        return newest.isoformat()
    return str(max(newest, int(before)) if before is not None else newest)
