"""The validating path of the extract-load: a batch whose fast COPY + upsert failed.

The batch is read again into `el_text` (every column text, plus its read order), and
one SQL statement names each row's broken rules: a NULL primary key, a primary key read
twice in the batch (the last one read lands, the earlier ones are quarantined), a value
the raw column's type cannot hold (pg_input_is_valid, PostgreSQL 16+). The rows that
break a rule go to quarantine.source_rows with the reason; the rest is cast and upserted.
No per-row round trip: a handful of statements, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from dagster_project.ingest.source_tables import SourceTable

SEQ, NOTE = "_el_seq", "_el_reason"  # read order; a reason found while reading (Python)
SHOWN_CHARS = 100  # a reason quotes at most this much of a value (the row keeps it all)
# What a bad row makes the fast path raise; anything else (a lost connection) is a fault.
REJECTABLE = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.CardinalityViolation)
TEXT_TYPES = {"text", "character varying"}  # every value fits: nothing to check


def land_valid(
    conn: psycopg.Connection,
    spec: SourceTable,
    columns: list[str],
    fill: Callable[[str], None],
    upsert: sql.Composed,
) -> tuple[int, int]:
    """Quarantine the batch's bad rows and upsert the others; returns (landed, quarantined)."""
    _require_pg_input_is_valid(conn)
    _create_text_table(conn, columns)
    fill("el_text")
    types = _raw_types(conn, spec, columns)
    conn.execute("drop table if exists el_rejects")  # one per chunk of a streamed read
    conn.execute(_classify(spec, columns, types))
    quarantined = conn.execute("select count(*) from el_rejects").fetchone()[0]
    _quarantine(conn, spec)
    conn.execute("truncate el_batch")
    conn.execute(_cast_valid(columns, types))
    return conn.execute(upsert).rowcount, quarantined


def _require_pg_input_is_valid(conn: psycopg.Connection) -> None:
    if conn.info.server_version < 160000:
        raise RuntimeError(
            "a row of this batch does not fit its raw table, and finding it needs "
            "pg_input_is_valid (PostgreSQL 16+): upgrade the warehouse to quarantine it, "
            "or fix the row at the source"
        )


def _create_text_table(conn: psycopg.Connection, columns: list[str]) -> None:
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)
    conn.execute(
        sql.SQL(
            "create temp table if not exists el_text ({cols}, {note} text, "
            "{seq} bigint generated always as identity) on commit drop"
        ).format(cols=cols, note=sql.Identifier(NOTE), seq=sql.Identifier(SEQ))
    )
    conn.execute("truncate el_text")


def _raw_types(conn: psycopg.Connection, spec: SourceTable, columns: list[str]) -> dict:
    """Column → its type as PostgreSQL spells it with modifiers (numeric(12,2), …)."""
    found = dict(
        conn.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = %s::regclass and attnum > 0 and not attisdropped",
            [f"raw.{spec.raw_table}"],
        ).fetchall()
    )
    return {c: found[c] for c in columns}


def _key_text(spec: SourceTable) -> sql.Composable:
    return sql.SQL("nullif(concat_ws(', ', {}), '')").format(_idents(spec.primary_key))


def _idents(names) -> sql.Composable:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _shown(column: str) -> sql.Composable:
    """The value as the reason quotes it: in quotes as it was read, cut to SHOWN_CHARS."""
    return sql.SQL(
        "'''' || left({c}, {n}) || case when length({c}) > {n} then '…' else '' end || ''''"
    ).format(c=sql.Identifier(column), n=sql.Literal(SHOWN_CHARS))


def _rules(spec: SourceTable, columns: list[str], types: dict) -> list[sql.Composable]:
    """One CASE per rule, each NULL when the row keeps it."""
    key_name = ", ".join(spec.primary_key)
    rules: list[sql.Composable] = [sql.Identifier(NOTE)]
    rules += [
        sql.SQL("case when {c} is null then {msg} end").format(
            c=sql.Identifier(c),
            msg=sql.Literal(f"{c} is NULL: the primary key ({key_name}) is required"),
        )
        for c in spec.primary_key
    ]
    rules.append(
        sql.SQL(
            "case when _el_rank > 1 and num_nulls({pk}) = 0 "
            "then format({msg}, {key}, _el_copies) end"
        ).format(
            pk=_idents(spec.primary_key),
            msg=sql.Literal(
                f"{key_name}=%s is read %s times in one batch: the primary key ({key_name}) "
                "must be unique; the last one read landed, this earlier one did not"
            ),
            key=_key_text(spec),
        )
    )
    rules += [_fits(c, types[c]) for c in columns if types[c] not in TEXT_TYPES]
    return rules


def _fits(column: str, type_name: str) -> sql.Composable:
    """The value parses as the raw column's type, or the reason quotes it with the error."""
    return sql.SQL(
        "case when {c} is not null and not pg_input_is_valid({c}, {t}) then "
        "{column} || '=' || {shown} || ' is not a valid ' || {t} "
        "|| ' (the raw column''s type): ' || "
        "(select message || coalesce(' (' || detail || ')', '') "
        "from pg_input_error_info({c}, {t})) end"
    ).format(
        c=sql.Identifier(column),
        t=sql.Literal(type_name),
        column=sql.Literal(column),
        shown=_shown(column),
    )


def _classify(spec: SourceTable, columns: list[str], types: dict) -> sql.Composed:
    """el_rejects: the read order and the reasons of every row that breaks a rule."""
    return sql.SQL(
        "create temp table el_rejects on commit drop as "
        "select {seq}, {key} as primary_key, reason from ("
        "  select *, concat_ws('; ', {rules}) as reason from ("
        "    select *, count(*) over keyed as _el_copies,"
        "      row_number() over (keyed order by {seq} desc) as _el_rank"
        "    from el_text window keyed as (partition by {pk})"
        "  ) ranked"
        ") checked where reason <> ''"
    ).format(
        seq=sql.Identifier(SEQ),
        key=_key_text(spec),
        rules=sql.SQL(", ").join(_rules(spec, columns, types)),
        pk=_idents(spec.primary_key),
    )


def _quarantine(conn: psycopg.Connection, spec: SourceTable) -> None:
    """One row per distinct rejected row: a row re-read in the overlap window is
    re-rejected in place (last_rejected_at), never added twice."""
    conn.execute(
        sql.SQL(
            "insert into quarantine.source_rows "
            "(source, source_table, primary_key, reject_reason, raw_values, row_md5) "
            "select distinct on (row_md5) {source}, {table}, primary_key, reason, "
            "raw_values, row_md5 from ("
            "  select r.primary_key, r.reason, v.raw_values, md5(v.raw_values::text) as row_md5"
            "  from el_rejects r join el_text t using ({seq}),"
            "  lateral (select to_jsonb(t) - {seq_name} - {note_name} as raw_values) v"
            ") rejected "
            "on conflict (source, source_table, row_md5) do update set "
            "reject_reason = excluded.reject_reason, last_rejected_at = now()"
        ).format(
            source=sql.Literal(spec.system),
            table=sql.Literal(spec.table),
            seq=sql.Identifier(SEQ),
            seq_name=sql.Literal(SEQ),
            note_name=sql.Literal(NOTE),
        )
    )


def _cast_valid(columns: list[str], types: dict) -> sql.Composed:
    """The rows no rule rejected, cast to the raw types (the rules proved they parse)."""
    return sql.SQL(
        "insert into el_batch ({cols}) select {casts} from el_text t "
        "where not exists (select from el_rejects r where r.{seq} = t.{seq})"
    ).format(
        cols=_idents(columns),
        casts=sql.SQL(", ").join(
            sql.SQL("{}::{}").format(sql.Identifier(c), sql.SQL(types[c])) for c in columns
        ),
        seq=sql.Identifier(SEQ),
    )
