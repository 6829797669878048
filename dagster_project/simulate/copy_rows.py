"""The one way the simulators write: COPY rows into an app table (no per-row INSERT)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql


def copy_rows(
    conn: psycopg.Connection, table: sql.Composable, columns: Sequence[str], rows: Iterable
) -> int:
    """COPY `rows` into `table` (`columns` in order); returns how many were written."""
    statement = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    n = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n
