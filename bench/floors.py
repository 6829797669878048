"""The sync's stages, each measured alone on the same gifts: pipelined HGETALL ×1000 and
COPY into a temp table (the floors the brief names), plus the Python parse between them and
the set-based upsert after them, so the stages add up to (about) the end-to-end time."""

from __future__ import annotations

import psycopg
import redis

from bench.sync import reset_raw
from bench.timing import best_of, timed
from dagster_project.ingest.gift_fields import FIELDS, InvalidValue, parse_gift
from dagster_project.ingest.redis_gifts import (
    BATCH_SIZE,
    COLUMNS,
    UPSERT_SQL,
    GiftKeys,
    text_client,
)

_TYPES = {"text": "text", "timestamp": "timestamptz", "integer": "integer", "money": "numeric"}
_COLUMN_DDL = ", ".join(f"{f.column} {_TYPES[f.kind]}" for f in FIELDS)
_COPY_COLUMNS = ", ".join(["gift_id", *COLUMNS, "present"])


def read_all(r: redis.Redis, keys: GiftKeys, ids: list[str]) -> list[dict]:
    hashes: list[dict] = []
    r = text_client(r)  # as the sync reads: hiredis decodes UTF-8
    for i in range(0, len(ids), BATCH_SIZE):
        pipe = r.pipeline(transaction=False)
        for gift_id in ids[i : i + BATCH_SIZE]:
            pipe.hgetall(keys.gift(gift_id))
        hashes.extend(pipe.execute())
    return hashes


def parse_all(ids: list[str], hashes: list[dict]) -> list[list]:
    rows = []
    for gift_id, raw in zip(ids, hashes, strict=True):
        if not raw:
            continue
        try:
            row, present = parse_gift(gift_id, raw)
        except InvalidValue:
            continue
        rows.append([gift_id, *row, ",".join(present)])
    return rows


def _new_table(conn: psycopg.Connection, name: str) -> None:
    """A temp table shaped like the sync's `gift_batch` (which UPSERT_SQL reads)."""
    conn.execute(f"drop table if exists {name}")
    conn.execute(f"create temp table {name} (gift_id text, {_COLUMN_DDL}, present text)")
    conn.commit()


def copy_rows(conn: psycopg.Connection, table: str, rows: list[list]) -> None:
    with conn.cursor().copy(f"copy {table} ({_COPY_COLUMNS}) from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()


def time_copy(conn: psycopg.Connection, rows: list[list], repeat: int) -> float:
    """COPY + commit into a fresh temp table (not WAL-logged): the landing floor."""
    runs = []
    for _ in range(max(1, repeat)):
        _new_table(conn, "copy_floor")
        runs.append(timed(lambda: copy_rows(conn, "copy_floor", rows))[0])
        landed = conn.execute("select count(*) from copy_floor").fetchone()[0]
        if landed != len(rows):
            raise RuntimeError(f"COPY floor landed {landed} rows, expected {len(rows)}")
    conn.execute("drop table copy_floor")
    conn.commit()
    return min(runs)


def time_upsert(conn: psycopg.Connection, rows: list[list], repeat: int) -> float:
    """The sync's own INSERT … ON CONFLICT from the batch table into an empty raw table."""
    runs = []
    for _ in range(max(1, repeat)):
        reset_raw(conn)
        _new_table(conn, "gift_batch")
        copy_rows(conn, "gift_batch", rows)
        runs.append(timed(lambda: (conn.execute(UPSERT_SQL), conn.commit()))[0])
    conn.execute("drop table gift_batch")
    conn.commit()
    return min(runs)


def measure(conn, r, keys: GiftKeys, ids: list[str], repeat: int) -> dict[str, float]:
    hgetall_s, hashes = best_of(repeat, lambda: read_all(r, keys, ids))
    parse_s, rows = best_of(repeat, lambda: parse_all(ids, hashes))
    return {
        "hgetall": hgetall_s,
        "parse": parse_s,
        "copy": time_copy(conn, rows, repeat),
        "upsert": time_upsert(conn, rows, repeat),
        "rows": len(rows),
    }
