"""MySQL and MariaDB app databases (`mysql+pymysql://`): their types and times, made to
land like a PostgreSQL source's.

- Times. Every session runs with `time_zone = '+00:00'`, so MySQL hands TIMESTAMP columns
  over in UTC whatever the server's or the user's zone; DATETIME columns carry no zone and
  are taken as UTC, or in the zone `SOURCE_<SYSTEM>__<TABLE>_DATETIME_ZONE` names (an IANA
  name such as Asia/Kolkata; DST is resolved by zoneinfo). Both land as timestamptz.
- Types. ENUM/SET → text, TINYINT(1) → boolean, unsigned integers one size up (BIGINT
  UNSIGNED → numeric(20)), JSON (MySQL) and MariaDB's JSON alias (LONGTEXT with
  CHECK json_valid) → jsonb.
- Zero dates (`0000-00-00`, which the driver hands over as text) name no instant: the row
  goes to quarantine.source_rows saying so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pymysql.cursors
import sqlalchemy as sa
from pymysql.constants import FIELD_TYPE
from sqlalchemy.dialects import mysql

from dagster_project.ingest.source_tables import SourceTable

# the session settings of every connection to a MySQL-family source
CONNECT_ARGS = {"init_command": "set time_zone = '+00:00'", "charset": "utf8mb4"}

FETCH_BLOCK = 2_000  # rows per fetchmany: how soon a reader sees a checkpoint
_JSON_CHECK = re.compile(r"^json_valid\(`(?P<column>[^`]+)`\)$", re.IGNORECASE)


class ZeroDate(str):
    """A MySQL zero date (`0000-00-00 …`) as the driver returned it: text, not an instant."""


def is_mysql(engine: sa.Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


def datetime_zone(spec: SourceTable) -> tzinfo:
    """The zone of the table's DATETIME columns: SOURCE_<SYSTEM>__<TABLE>_DATETIME_ZONE, or
    UTC."""
    name = f"SOURCE_{spec.system.upper()}__{spec.table.upper()}_DATETIME_ZONE"
    value = os.environ.get(name)
    if not value:
        return UTC
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"{name}={value!r} is not a time zone: use an IANA name such as Asia/Kolkata or UTC"
        ) from exc


def json_columns(engine: sa.Engine, spec: SourceTable) -> set[str]:
    """MariaDB's JSON columns: LONGTEXT with a CHECK (json_valid(col)) constraint."""
    query = sa.text(
        "select check_clause from information_schema.check_constraints "
        "where constraint_schema = coalesce(:schema, database()) and table_name = :table"
    )
    with engine.connect() as conn:
        clauses = conn.execute(query, {"schema": spec.schema, "table": spec.table}).scalars()
        return {m["column"] for c in clauses if (m := _JSON_CHECK.match(c.strip()))}


def pg_type(column_type: sa.types.TypeEngine, is_json: bool) -> str | None:
    """The raw column type of a MySQL column, or None where the generic mapping is right."""
    if is_json or isinstance(column_type, sa.JSON):
        return "JSONB"
    if isinstance(column_type, sa.Enum | mysql.SET):
        return "text"
    if isinstance(column_type, mysql.TINYINT) and column_type.display_width == 1:
        return "boolean"
    if isinstance(column_type, mysql.YEAR):
        return "smallint"
    if isinstance(column_type, sa.DateTime):  # TIMESTAMP and DATETIME
        return "timestamptz"
    if isinstance(column_type, sa.Integer):
        return _integer(column_type)
    return None


def _integer(column_type: sa.Integer) -> str:
    unsigned = getattr(column_type, "unsigned", False)
    if isinstance(column_type, sa.BigInteger):
        return "numeric(20)" if unsigned else "bigint"
    if isinstance(column_type, mysql.MEDIUMINT):  # ±8,388,607 signed, 16,777,215 unsigned
        return "integer"
    if isinstance(column_type, mysql.TINYINT | sa.SmallInteger):
        return "integer" if unsigned else "smallint"
    return "bigint" if unsigned else "integer"


def time_decoders(zone: tzinfo) -> dict[int, Callable[[str], object]]:
    """PyMySQL decoders for the time columns, by the type on the wire: TIMESTAMP as an aware
    UTC instant (the session's +00:00), DATETIME as one too (taken in `zone`), a zero or
    otherwise invalid date marked. They run in the driver's own per-value pass (no row is
    copied and walked again), and parse with the C fromisoformat, which reads MySQL's
    `YYYY-MM-DD hh:mm:ss[.ffffff]` as PyMySQL's regex does, several times faster."""
    datetime_decoder = _utc_instant if zone is UTC else lambda text: _instant(text, zone)
    return {
        FIELD_TYPE.TIMESTAMP: _utc_instant,
        FIELD_TYPE.DATETIME: datetime_decoder,
        FIELD_TYPE.DATE: _date,
    }


def row_converter(
    column_types: Sequence[sa.types.TypeEngine], json_flags: Sequence[bool]
) -> Callable[[Sequence], Sequence] | None:
    """Turn a row as PyMySQL returns it (times already decoded by time_decoders) into the
    values raw expects: booleans for TINYINT(1); JSON stays the source's text, COPYed as
    text so PostgreSQL parses it into jsonb (faster than json.loads here and json.dumps in
    psycopg, and exact: a Python round trip turns 1.10 into 1.1). Built once per table: a
    row only pays for the columns that need a conversion; None when none does (most
    tables: their rows are the driver's as they are)."""
    pairs = [
        (i, fn)
        for i, (t, is_json) in enumerate(zip(column_types, json_flags, strict=True))
        if (fn := _json_converter(t) if is_json else _converter(t)) is not None
    ]
    if not pairs:
        return None

    def convert(row: Sequence) -> list:
        values = list(row)
        for i, fn in pairs:
            value = values[i]
            if value is not None:
                values[i] = fn(value)
        return values

    return convert


def stream_chunks(
    source: sa.Connection,
    query: sa.Select,
    convert: Callable | None,
    decoders: dict[int, Callable],
    chunk_rows: int,
    checkpoint: Callable[[], None] = lambda: None,
) -> Iterator[list]:
    """The query's rows straight from PyMySQL's unbuffered cursor (constant memory),
    converted, `chunk_rows` at a time, fetched in blocks with `checkpoint()` between them
    (where a read-ahead reader waits while the writer is busy). The query's columns are
    untyped, so SQLAlchemy's result would only wrap each row in a Row object: it is left
    out. `decoders` replace the connection's own for this query only (PyMySQL picks a
    result's decoders when the query is sent)."""
    compiled = query.compile(dialect=source.dialect)
    driver = source.connection.driver_connection
    cursor = driver.cursor(pymysql.cursors.SSCursor)
    try:
        saved, driver.decoders = driver.decoders, {**driver.decoders, **decoders}
        try:
            cursor.execute(str(compiled), compiled.params)
        finally:
            driver.decoders = saved  # the pooled connection's other queries: as before
        chunk: list = []
        while block := cursor.fetchmany(min(FETCH_BLOCK, chunk_rows - len(chunk))):
            chunk.extend(block if convert is None else map(convert, block))
            if len(chunk) == chunk_rows:
                yield chunk
                chunk = []
            checkpoint()
        if chunk:
            yield chunk
    finally:
        if driver.open:
            cursor.close()
        else:  # a lost connection has nothing left to drain; close() (or the cursor's
            cursor.connection = None  # __del__) would raise on the dead socket instead


def _json_converter(column_type: sa.types.TypeEngine):
    """None (the text as it is) unless the column is binary, whose values come as bytes."""
    try:
        binary = column_type.python_type is bytes
    except NotImplementedError:
        binary = False
    return bytes.decode if binary else None


def _converter(column_type: sa.types.TypeEngine):
    if isinstance(column_type, mysql.TINYINT) and column_type.display_width == 1:
        return bool
    return None


def _utc_instant(text: str):
    """_instant(text, UTC) without the no-op conversion: the most common column's path."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:  # 0000-00-00, or a day the calendar has not
        return ZeroDate(text)


def _instant(text: str, zone: tzinfo):
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        return ZeroDate(text)


def _date(text: str):
    try:
        return date.fromisoformat(text)
    except ValueError:
        return ZeroDate(text)


def zero_date_reason(column: str, value: ZeroDate) -> str:
    return f"{column}='{value}' is a MySQL zero date, which names no instant"


def source_bound(value: datetime | int | None, column_type, zone: tzinfo):
    """A cursor bound (aware UTC) as the source compares it: naive, in the column's zone."""
    if not isinstance(value, datetime):
        return value
    if isinstance(column_type, mysql.TIMESTAMP):
        zone = UTC
    return value.astimezone(zone).replace(tzinfo=None)


def source_now(value) -> datetime | None:
    """CURRENT_TIMESTAMP in the +00:00 session, as an aware instant."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value
