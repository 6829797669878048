"""Retention of raw event tables (seeds 001 and 003): delete rows older than each table's
window, in bounded batches, and record the horizon in `ops.retention_horizons`.

Windows: YesGoddess keeps 2 years of events (seed 001's GDPR rule; `attribution` is 1:1
with its event, so it follows); EverReach keeps 90 days of `app_events` and 180 of
`responses`, and its `cleanup_old_responses` also removes the prompts left without a
response (seed 003). Each window can be changed with `RETENTION_<SYSTEM>__<TABLE>_DAYS`.

The horizon is a UTC day: rows whose day is before it are deleted, so every mart day is
either whole or gone. It is recorded (and committed) *before* the first row goes: dbt's
`window_replace` strategy reads it and keeps the mart rows of days before it
(`dbt_project/macros/retention.sql`), and the late-arrival sensor stops asking for
them. A recorded horizon never moves back: a longer window cannot bring deleted rows back.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from dagster_project.ingest import sync_state

DEFAULT_BATCH_ROWS = 20_000
BATCH_ENV = "RETENTION_BATCH_ROWS"

HORIZONS_DDL = """
create schema if not exists ops;
create table if not exists ops.retention_horizons (
    table_name text primary key,  -- raw table, e.g. everreach__app_events
    time_column text not null,
    window_days integer not null check (window_days > 0),
    -- first UTC day kept: rows whose day is before it are deleted, and the marts keep
    -- the rows they built for those days
    horizon date not null,
    rows_deleted_last_run bigint not null default 0,
    rows_deleted_total bigint not null default 0,
    last_run_at timestamptz,
    updated_at timestamptz not null default now()
);
comment on table ops.retention_horizons is
    'Raw retention (dagster_project/ingest/retention.py): per raw table, the first UTC day '
    'kept. Marts keep their rows of earlier days.';
"""


@dataclass(frozen=True)
class RetentionRule:
    system: str
    table: str  # app table; raw.<system>__<table>
    time_column: str  # timestamptz column whose UTC day is compared with the horizon
    default_days: int
    # (raw table, column): rows still referenced from there are kept (orphans only)
    unless_referenced_by: tuple[str, str] | None = None

    @property
    def raw_table(self) -> str:
        return f"{self.system}__{self.table}"

    @property
    def env_var(self) -> str:
        return f"RETENTION_{self.system.upper()}__{self.table.upper()}_DAYS"

    @property
    def asset_key(self) -> list[str]:
        return ["raw", self.raw_table]


# In deletion order: responses before prompts, so a prompt whose responses just went is
# an orphan in the same run.
RULES: tuple[RetentionRule, ...] = (
    RetentionRule("yesgoddess", "events", "occurred_at", 730),
    # written when its event arrives (never before the event happened): by arrival day
    RetentionRule("yesgoddess", "attribution", "created_at", 730),
    RetentionRule("everreach", "app_events", "occurred_at", 90),
    RetentionRule("everreach", "responses", "created_at", 180),
    RetentionRule(
        "everreach",
        "prompts",
        "created_at",
        180,
        unless_referenced_by=("everreach__responses", "prompt_id"),
    ),
)


class RetentionConfigError(ValueError):
    """A retention setting in the environment is not a positive whole number."""


def _positive_int(name: str, value: str) -> int:
    text = value.strip()
    if not text.isdigit() or int(text) <= 0:
        raise RetentionConfigError(
            f"{name}={value!r} is not valid: it must be a positive whole number "
            f"(e.g. {name}=90), without units or signs"
        )
    return int(text)


def window_days(rule: RetentionRule, env: Mapping[str, str] | None = None) -> int:
    """The rule's window: `RETENTION_<SYSTEM>__<TABLE>_DAYS` when set, else its default."""
    env = os.environ if env is None else env
    value = env.get(rule.env_var)
    if value is None or value == "":
        return rule.default_days
    return _positive_int(rule.env_var, value)


def batch_rows(env: Mapping[str, str] | None = None) -> int:
    """Rows deleted per statement (each its own transaction): `RETENTION_BATCH_ROWS`."""
    env = os.environ if env is None else env
    value = env.get(BATCH_ENV)
    return DEFAULT_BATCH_ROWS if not value else _positive_int(BATCH_ENV, value)


def windows(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Every rule's window, validated all at once: a bad value fails before any delete."""
    return {rule.raw_table: window_days(rule, env) for rule in RULES}


def horizon_for(today: date, days: int) -> date:
    """The first UTC day kept: `days` whole days before today (today itself always kept)."""
    return today - timedelta(days=days)


@dataclass
class RetentionResult:
    table: str
    window_days: int
    horizon: date  # the horizon in force (recorded; never earlier than a previous one)
    rows_deleted: int = 0
    batches: int = 0  # delete statements that removed rows
    largest_batch: int = 0
    seconds: float = 0.0
    table_exists: bool = True


def ensure_horizons_table(conn: psycopg.Connection) -> None:
    if not conn.execute("select to_regclass('ops.retention_horizons')").fetchone()[0]:
        conn.execute("select pg_advisory_xact_lock(hashtext('analytics.retention_horizons'))")
        conn.execute(HORIZONS_DDL)
    conn.commit()


def recorded_horizons(conn: psycopg.Connection) -> dict[str, date]:
    """{raw table: horizon} as recorded (empty before the first retention run)."""
    if not conn.execute("select to_regclass('ops.retention_horizons')").fetchone()[0]:
        return {}
    return dict(conn.execute("select table_name, horizon from ops.retention_horizons"))


def _record_horizon(conn, rule: RetentionRule, days: int, horizon: date) -> date:
    """Upsert the horizon (never backwards) and commit, before anything is deleted."""
    row = conn.execute(
        """insert into ops.retention_horizons (table_name, time_column, window_days, horizon)
           values (%s, %s, %s, %s)
           on conflict (table_name) do update set
               time_column = excluded.time_column,
               window_days = excluded.window_days,
               horizon = greatest(ops.retention_horizons.horizon, excluded.horizon),
               updated_at = now()
           returning horizon""",
        [rule.raw_table, rule.time_column, days, horizon],
    ).fetchone()
    conn.commit()
    return row[0]


def _delete_batch_sql(rule: RetentionRule) -> sql.Composed:
    """One bounded batch: the ctids of at most N old rows (through the time column's
    index), then a TID scan deleting exactly those."""
    table = sql.Identifier("raw", rule.raw_table)
    orphan = sql.SQL("")
    if rule.unless_referenced_by:
        ref_table, ref_column = rule.unless_referenced_by
        orphan = sql.SQL(
            " and not exists (select from {ref} as r where r.{col} = old.{col})"
        ).format(ref=sql.Identifier("raw", ref_table), col=sql.Identifier(ref_column))
    return sql.SQL(
        "delete from {table} where ctid = any(array("
        "select old.ctid from {table} as old where old.{time} < %(cutoff)s{orphan} "
        "limit %(limit)s))"
    ).format(table=table, time=sql.Identifier(rule.time_column), orphan=orphan)


def apply_retention(
    conn: psycopg.Connection,
    rule: RetentionRule,
    today: date,
    days: int,
    batch_limit: int = DEFAULT_BATCH_ROWS,
) -> RetentionResult:
    """Record the horizon, then delete the rows before it, `batch_limit` rows per
    transaction (short locks, bounded WAL per commit, a crash loses one batch of work)."""
    started = time.perf_counter()
    ensure_horizons_table(conn)
    lock_id = f"retention:{rule.raw_table}"
    sync_state.acquire(conn, lock_id)  # a second run of the same table refuses
    try:
        horizon = _record_horizon(conn, rule, days, horizon_for(today, days))
        result = RetentionResult(rule.raw_table, days, horizon)
        exists = conn.execute("select to_regclass(%s)", [f"raw.{rule.raw_table}"]).fetchone()[0]
        if not exists:
            result.table_exists = False
        else:
            _delete_before(conn, rule, horizon, batch_limit, result)
        conn.execute(
            """update ops.retention_horizons set rows_deleted_last_run = %s,
                   rows_deleted_total = rows_deleted_total + %s, last_run_at = now()
               where table_name = %s""",
            [result.rows_deleted, result.rows_deleted, rule.raw_table],
        )
        conn.commit()
    finally:
        sync_state.release(conn, lock_id)
    result.seconds = time.perf_counter() - started
    return result


def _delete_before(conn, rule: RetentionRule, horizon: date, limit: int, result) -> None:
    statement = _delete_batch_sql(rule)
    cutoff = datetime(horizon.year, horizon.month, horizon.day, tzinfo=UTC)
    while True:
        deleted = conn.execute(statement, {"cutoff": cutoff, "limit": limit}).rowcount
        conn.commit()
        if deleted <= 0:
            return
        result.rows_deleted += deleted
        result.batches += 1
        result.largest_batch = max(result.largest_batch, deleted)
        if deleted < limit:
            return


def run_retention(
    conn: psycopg.Connection,
    today: date | None = None,
    env: Mapping[str, str] | None = None,
    rules: tuple[RetentionRule, ...] = RULES,
) -> list[RetentionResult]:
    """Every rule in order; all settings are validated before the first delete."""
    today = today or datetime.now(UTC).date()
    days = windows(env)
    limit = batch_rows(env)
    return [apply_retention(conn, rule, today, days[rule.raw_table], limit) for rule in rules]
