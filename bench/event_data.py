"""Event data for the event-mart bench: one simulated day per event system in the bench
database (app tables in schema `bench_<system>`), landed into `raw` by the production
extract-load, and history made by replicating that day's raw rows into the days before.

Only systems whose simulator module exists are benchmarked (EverReach joins when its
simulator lands on main)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from importlib import import_module
from importlib.util import find_spec

import psycopg
from psycopg import sql

from bench.environment import Target
from bench.timing import progress, timed
from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES, SourceTable
from dagster_project.ingest.user_agents import parse_new_user_agents

CANDIDATES = ("yesgoddess", "everreach", "mashups")
SEED = 7

# How a raw row is copied into an earlier day without being deduplicated away: its time
# columns shift by n days, its primary key and event/session ids get new values; the
# actors stay (returning users, as in life), `_loaded_at` is kept. Tables not listed
# here (EverReach, once it lands) follow the generic rule in `_history_rule`.
HISTORY_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "yesgoddess__events": {
        "shift": ("occurred_at", "created_at"),
        "offset": ("ingest_seq",),
        "suffix": ("id", "session_id"),
    },
    "yesgoddess__attribution": {
        "shift": ("created_at",),
        "offset": ("id",),
        "suffix": ("event_id",),
    },
    "mashups__analytics_events": {
        "shift": ("timestamp", "received_at"),
        "offset": ("ingest_seq",),
        "suffix": ("id", "session_id"),
    },
    # mashups (the catalogue) are not events: they stay as they are
    "mashups__mashups": {},
}
_ID_COLUMNS = ("id", "session_id", "prompt_id", "response_id", "event_id")


def systems() -> list[str]:
    """The event systems with a simulator and declared source tables."""
    found = []
    for system in CANDIDATES:
        has_tables = any(spec.system == system for spec in SOURCE_TABLES)
        if has_tables and find_spec(f"dagster_project.simulate.{system}") is not None:
            found.append(system)
    return found


def specs(system: str) -> list[SourceTable]:
    return [spec for spec in SOURCE_TABLES if spec.system == system]


def simulate(target: Target, system: str, day: date, rows: int) -> str:
    """Untimed: replace `bench_<system>`'s tables with one simulated day; a summary."""
    module = import_module(f"dagster_project.simulate.{system}")
    schema = f"bench_{system}"
    with target.connect() as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        module.create_tables(conn, schema=schema)
        conn.commit()
        result = getattr(module, f"simulate_{system}")(
            conn, days=1, events_per_day=rows, seed=SEED, end=day, schema=schema, reset=True
        )
    events = getattr(result, "events", None)
    return f"{events:,} events" if events is not None else str(result)


def reset_raw(target: Target, system: str) -> None:
    """Empty the system's raw tables (kept, with their indexes: staging views read them)
    and forget its extract-load cursors and user-agent mark, so the next load is a first."""
    with target.connect(autocommit=True) as conn:
        for spec in specs(system):
            if conn.execute("select to_regclass(%s)", [f"raw.{spec.raw_table}"]).fetchone()[0]:
                conn.execute(sql.SQL("truncate {}").format(sql.Identifier("raw", spec.raw_table)))
            if conn.execute("select to_regclass('ops.sync_state')").fetchone()[0]:
                conn.execute(
                    "delete from ops.sync_state where id = %s or id = %s",
                    [spec.sync_id, f"enrich:user_agents:{spec.raw_table}"],
                )


def land(target: Target, system: str) -> str:
    """Untimed: the real extract-load of every table of the system, then user agents."""
    engine = source_engine(target.warehouse_url)
    parts = []
    try:
        for spec in specs(system):
            bench_spec = replace(spec, schema=f"bench_{system}")
            with target.connect() as conn:
                seconds, result = timed(lambda s=bench_spec, c=conn: extract_load(c, engine, s))
            parts.append(f"{spec.raw_table} {result.rows:,} rows {seconds:.1f}s")
    finally:
        engine.dispose()
    if system == "yesgoddess":
        with target.connect() as conn:
            seconds, _ = timed(
                lambda: parse_new_user_agents(conn, "yesgoddess__attribution", "user_agent")
            )
        parts.append(f"user agents parsed {seconds:.1f}s")
    return ", ".join(parts)


def prepare_day(target: Target, systems_: list[str], day: date, rows: int) -> None:
    for system in systems_:
        seconds, summary = timed(lambda s=system: simulate(target, s, day, rows))
        progress(f"{system}: simulated {summary} on {day} in {seconds:.1f}s (untimed)")
        reset_raw(target, system)
        seconds, summary = timed(lambda s=system: land(target, s))
        progress(f"{system}: extract-load {summary} (untimed)")


# --- history -----------------------------------------------------------------------------


def _columns(conn: psycopg.Connection, schema: str, table: str) -> dict[str, str]:
    return dict(
        conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        ).fetchall()
    )


def _history_rule(spec: SourceTable, columns: dict[str, str]) -> dict[str, tuple[str, ...]]:
    if spec.raw_table in HISTORY_RULES:
        return HISTORY_RULES[spec.raw_table]
    shift = tuple(c for c, t in columns.items() if t.startswith("timestamp") and c != "_loaded_at")
    keys = [c for c in columns if c in spec.primary_key or c in _ID_COLUMNS]
    numeric = ("bigint", "integer", "smallint")
    return {
        "shift": shift,
        "offset": tuple(c for c in keys if columns[c] in numeric),
        "suffix": tuple(c for c in keys if columns[c] not in numeric),
    }


def history_bases(conn: psycopg.Connection, spec: SourceTable) -> dict[str, int]:
    """Before any replication: per numeric key column, one past its largest value. Copy n
    of a row gets key + n * base, so the copies of different days never collide, and the
    landed day is the rows below the base."""
    rule = _history_rule(spec, _columns(conn, "raw", spec.raw_table))
    return {
        c: conn.execute(
            sql.SQL("select coalesce(max({}), 0) + 1 from {}").format(
                sql.Identifier(c), sql.Identifier("raw", spec.raw_table)
            )
        ).fetchone()[0]
        for c in rule.get("offset", ())
    }


def replicate(
    conn: psycopg.Connection, spec: SourceTable, bases: dict[str, int], first: int, last: int
) -> int:
    """Copy the landed day's rows into the days `first`..`last` before it, in one
    set-based `insert … select`; returns the rows inserted (0: a table that is no event)."""
    columns = _columns(conn, "raw", spec.raw_table)
    rule = _history_rule(spec, columns)
    if not rule.get("shift") or not (rule.get("offset") or rule.get("suffix")):
        return 0
    select = []
    for column in columns:
        ident = sql.Identifier("src", column)
        if column in rule["shift"]:
            select.append(sql.SQL("{} - n * interval '1 day'").format(ident))
        elif column in rule.get("offset", ()):
            select.append(sql.SQL("{} + n * {}").format(ident, sql.Literal(bases[column])))
        elif column in rule.get("suffix", ()):
            select.append(sql.SQL("{} || '~h' || n").format(ident))
        else:
            select.append(ident)
    if rule.get("offset"):
        column = rule["offset"][0]
        where = sql.SQL("src.{} < {}").format(sql.Identifier(column), sql.Literal(bases[column]))
    else:
        where = sql.SQL("src.{} not like '%~h%'").format(sql.Identifier(rule["suffix"][0]))
    statement = sql.SQL(
        "insert into {table} ({cols}) select {select} from {table} as src "
        "cross join generate_series({first}, {last}) as n where {where}"
    ).format(
        table=sql.Identifier("raw", spec.raw_table),
        cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
        select=sql.SQL(", ").join(select),
        first=sql.Literal(first),
        last=sql.Literal(last),
        where=where,
    )
    return conn.execute(statement).rowcount
