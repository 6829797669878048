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

import json
import os
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from dagster_project.ingest.source_tables import SourceTable

# the session settings of every connection to a MySQL-family source
CONNECT_ARGS = {"init_command": "set time_zone = '+00:00'", "charset": "utf8mb4"}

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
    if isinstance(column_type, mysql.TINYINT | sa.SmallInteger | mysql.MEDIUMINT):
        return "integer" if unsigned else "smallint"
    return "bigint" if unsigned else "integer"


def row_converter(
    column_types: Sequence[sa.types.TypeEngine], json_flags: Sequence[bool], zone: tzinfo
) -> Callable[[Sequence], tuple]:
    """Turn a row as PyMySQL returns it into the values raw expects: aware UTC datetimes,
    booleans for TINYINT(1), JSON text parsed (else it would land as one JSON string),
    zero dates marked."""
    converters = [
        _parse_json if is_json else _converter(t, zone)
        for t, is_json in zip(column_types, json_flags, strict=True)
    ]
    if not any(converters):
        return tuple
    pairs = list(enumerate(converters))

    def convert(row: Sequence) -> tuple:
        values = list(row)
        for i, fn in pairs:
            if fn is not None and values[i] is not None:
                values[i] = fn(values[i])
        return tuple(values)

    return convert


def _parse_json(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _converter(column_type: sa.types.TypeEngine, zone: tzinfo):
    if isinstance(column_type, mysql.TIMESTAMP):
        return lambda v: _instant(v, UTC)  # the session's +00:00
    if isinstance(column_type, sa.DateTime):
        return lambda v: _instant(v, zone)
    if isinstance(column_type, sa.Date):
        return lambda v: ZeroDate(v) if isinstance(v, str) else v
    if isinstance(column_type, mysql.TINYINT) and column_type.display_width == 1:
        return bool
    return None


def _instant(value, zone: tzinfo):
    if isinstance(value, str):  # the driver's text for a zero or otherwise invalid date
        return ZeroDate(value)
    return value.replace(tzinfo=zone).astimezone(UTC)


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
