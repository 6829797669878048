"""The session settings of dbt's warehouse connections, and who held the lock when one
of them gave up waiting.

Without a lock_timeout, dbt waits forever for a mart that another session has locked
(an open transaction in psql, a stuck reader), and with the dbt pool at 1 every later
build waits behind it. libpq reads PGOPTIONS, so the dbt subprocess gets its timeouts
from there; settings the environment already has in PGOPTIONS come after ours and win.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg

# Longer than the reader role's statement_timeout (macros/ensure_reader_role.sql), so a
# dashboard query alone never fails a build: it is cancelled before dbt gives up.
DEFAULT_LOCK_TIMEOUT = "5min"
# A backstop for a statement that never ends; a full two-year rebuild takes minutes.
DEFAULT_STATEMENT_TIMEOUT = "4h"
_DURATION = re.compile(r"^\d+(us|ms|s|min|h|d)?$")
LOCK_TIMEOUT_TEXT = "canceling statement due to lock timeout"


def _duration(name: str, default: str) -> str:
    value = os.environ.get(name) or default
    if not _DURATION.match(value):
        raise ValueError(
            f"{name}={value!r} is not a PostgreSQL duration: a whole number with an optional "
            "unit us, ms, s, min, h or d (0 turns the timeout off), e.g. 5min"
        )
    return value


def dbt_pgoptions(environ: Mapping[str, str]) -> str:
    """PGOPTIONS for a dbt run: DBT_LOCK_TIMEOUT and DBT_STATEMENT_TIMEOUT (or the
    defaults), then whatever PGOPTIONS `environ` already holds."""
    lock = _duration("DBT_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    statement = _duration("DBT_STATEMENT_TIMEOUT", DEFAULT_STATEMENT_TIMEOUT)
    ours = f"-c lock_timeout={lock} -c statement_timeout={statement}"
    return f"{ours} {environ.get('PGOPTIONS', '')}".strip()


@contextmanager
def dbt_session_settings() -> Iterator[None]:
    """Set PGOPTIONS while dbt's subprocess is started (it copies os.environ), then put the
    old value back, so this process's own connections keep theirs."""
    before = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = dbt_pgoptions(os.environ)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = before


_HOLDERS_SQL = """
select distinct on (a.pid) a.pid, a.usename, a.application_name, a.state,
       date_trunc('second', now() - coalesce(a.xact_start, a.query_start)) as held_for,
       l.mode, left(regexp_replace(a.query, '\\s+', ' ', 'g'), 300) as query
from pg_locks l
join pg_stat_activity a on a.pid = l.pid
where l.granted and l.relation = to_regclass(%s) and a.pid <> pg_backend_pid()
  and a.application_name <> 'analytics-dbt'
order by a.pid, l.mode
"""


def lock_holders(conn: psycopg.Connection, relation: str) -> list[str]:
    """One line per session holding a lock on `relation` (schema.table), saying what it
    runs and how to end it."""
    lines = []
    for pid, user, app, state, held_for, mode, query in conn.execute(_HOLDERS_SQL, [relation]):
        lines.append(
            f"pid {pid} (user {user}, application {app or '-'!r}, {state} for {held_for}, "
            f"{mode}) running: {query or '<not visible to this user>'} — let it finish or "
            f"end it with `select pg_terminate_backend({pid})`, then re-run"
        )
    return lines


def explain_lock_timeouts(run_results: Mapping[str, Any] | None, connect) -> dict[str, list[str]]:
    """{relation: its lock holders} for each node dbt gave up on because of a lock timeout.
    `connect()` opens a warehouse connection; it is called only when there is one."""
    timed_out = [
        r["relation_name"].replace('"', "")
        for r in (run_results or {}).get("results", [])
        if LOCK_TIMEOUT_TEXT in (r.get("message") or "") and r.get("relation_name")
    ]
    if not timed_out:
        return {}
    with connect() as conn:
        return {rel: lock_holders(conn, rel.split(".", 1)[-1]) for rel in timed_out}
