"""Race-safe sync of CryptoGift gift hashes from Redis into `raw.gift_analytics`.

The seed's `SMEMBERS → HGETALL → SREM` loses a change made between the read and the
SREM. Here the dirty set is first *renamed* to an in-flight key (atomic): the app keeps
adding to a fresh live set while we read. Only after Postgres has committed is the
in-flight key deleted. A crash in between leaves the in-flight key, which the next run
resumes; the upsert is idempotent, so at-least-once delivery never double counts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
import redis

from dagster_project.ingest.gift_fields import (
    FIELDS,
    InvalidValue,
    parse_gift,
    printable,
)
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.settings import DEFAULT_GIFT_KEY_PREFIX

SYNC_ID = "gift_redis_sync"
BATCH_SIZE = 1000  # gifts per SSCAN page and per HGETALL pipeline
CHUNK_SIZE = 10_000  # gifts per COPY + upsert

COLUMNS = [f.column for f in FIELDS]


class SyncAlreadyRunning(RuntimeError):
    """Raised when another gift sync holds the lock: we refuse rather than wait."""


@dataclass
class SyncResult:
    synced: int = 0  # gifts upserted into raw.gift_analytics
    quarantined: int = 0  # gifts rejected into quarantine.gift_analytics
    missing: int = 0  # dirty ids whose hash is gone (dropped from the set)
    resumed: bool = False  # an in-flight key from a crashed run was finished
    still_dirty: int = 0  # ids dirtied while we ran: the next run takes them


@dataclass(frozen=True)
class GiftKeys:
    prefix: str = DEFAULT_GIFT_KEY_PREFIX

    @property
    def dirty(self) -> str:
        return f"{self.prefix}dirty"

    @property
    def inflight(self) -> str:
        return f"{self.prefix}dirty:inflight"

    def gift(self, gift_id: str) -> str:
        return f"{self.prefix}{gift_id}"


def claim_batch(r: redis.Redis, keys: GiftKeys) -> bool:
    """Make the in-flight key hold the ids to sync; True if there is anything to do.

    An in-flight key left by a crashed run is resumed as it is (RENAMENX refuses to
    overwrite it); otherwise the live dirty set is moved there in one atomic step.
    """
    if r.exists(keys.inflight):
        return True
    try:
        return bool(r.renamenx(keys.dirty, keys.inflight))
    except redis.exceptions.ResponseError as exc:  # "no such key": nothing is dirty
        if "no such key" in str(exc).lower():
            return False
        raise


def text_client(r: redis.Redis) -> redis.Redis:
    """The same Redis, answering in str: hiredis decodes UTF-8 in C, far faster than Python.
    Invalid UTF-8 shows as U+FFFD rather than stopping the sync."""
    pool = r.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": True, "encoding_errors": "replace"}
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)
    )


def read_inflight(
    r: redis.Redis, keys: GiftKeys, batch_size: int = BATCH_SIZE
) -> Iterator[list[tuple[str, dict]]]:
    """SSCAN the in-flight set and HGETALL each batch in one pipeline round trip."""
    seen: set[str] = set()
    cursor = 0
    while True:
        cursor, members = r.sscan(keys.inflight, cursor=cursor, count=batch_size)
        ids = [i for i in members if i not in seen]  # SSCAN may repeat a member
        seen.update(ids)
        if ids:
            pipe = r.pipeline(transaction=False)
            for gift_id in ids:
                pipe.hgetall(keys.gift(gift_id))
            yield list(zip(ids, pipe.execute(), strict=True))
        if cursor == 0:
            return


def _set_state(conn: psycopg.Connection, status: str, **fields) -> None:
    assignments = ", ".join(f"{k} = %({k})s" for k in fields)
    conn.execute(
        f"""insert into ops.sync_state (id, status) values (%(id)s, %(status)s)
            on conflict (id) do update set status = excluded.status, updated_at = now()
            {", " + assignments if assignments else ""}""",
        {"id": SYNC_ID, "status": status, **fields},
    )
    conn.commit()


def _acquire_lock(conn: psycopg.Connection) -> None:
    # A session-level advisory lock dies with its connection, so a crashed sync never
    # leaves the project locked (unlike a status column, which would need a manual reset).
    got = conn.execute("select pg_try_advisory_lock(hashtext(%s))", [SYNC_ID]).fetchone()[0]
    conn.commit()
    if not got:
        raise SyncAlreadyRunning(
            "another gift sync is running (it holds the advisory lock 'gift_redis_sync'); "
            "this run refuses rather than waits — retry when it finishes"
        )


# The landed creator of a gift; CASE keeps it a per-row lookup for the rare blank creator
# instead of a join over the whole raw table on every chunk.
LANDED_CREATOR = "(select g.creator_address from raw.gift_analytics g where g.gift_id = b.gift_id)"

REJECT_NO_CREATOR_SQL = f"""
    insert into gift_rejects
    select b.gift_id, 'gift ' || b.gift_id || ': creator_address is required for a new gift',
           to_jsonb(b)
    from gift_batch b
    where case when b.creator_address is null then {LANDED_CREATOR} is null else false end
"""


def _upsert_sql() -> str:
    """One INSERT … ON CONFLICT per chunk; the gifts it lands leave quarantine.

    `redis_fields` lists the fields the hash had, so a field missing from it keeps the
    landed value; an empty one (present, blank) lands NULL. creator_address is NOT NULL
    (seed 000), checked on the proposed row before ON CONFLICT: a blank one takes the
    landed address, and a new gift without one was rejected by REJECT_NO_CREATOR_SQL.
    """
    updates = []
    for col in COLUMNS:
        new = f"excluded.{col}"
        if col == "creator_address":
            new = f"coalesce(excluded.{col}, gift_analytics.{col})"
        updates.append(
            f"{col} = case when '{col}' = any(excluded.redis_fields) then {new} "
            f"else gift_analytics.{col} end"
        )
    cols = ", ".join(COLUMNS)
    select_cols = ", ".join(
        f"coalesce(b.{c}, {LANDED_CREATOR})" if c == "creator_address" else f"b.{c}"
        for c in COLUMNS
    )
    return f"""
        with landed as (
            insert into raw.gift_analytics (gift_id, {cols}, redis_fields, redis_synced_at)
            select b.gift_id, {select_cols}, string_to_array(b.present, ','), now()
            from gift_batch b
            where case when b.creator_address is null then {LANDED_CREATOR} is not null
                       else true end
            on conflict (gift_id) do update set
                {", ".join(updates)},
                redis_fields = excluded.redis_fields,
                redis_synced_at = excluded.redis_synced_at,
                updated_at = now()
            returning gift_id
        ),
        cleared as (
            delete from quarantine.gift_analytics q using landed where q.gift_id = landed.gift_id
        )
        select count(*) from landed
    """


UPSERT_SQL = _upsert_sql()


def _create_batch_table(conn: psycopg.Connection) -> None:
    types = {"text": "text", "timestamp": "timestamptz", "integer": "integer", "money": "numeric"}
    cols = ", ".join(f"{f.column} {types[f.kind]}" for f in FIELDS)
    conn.execute(
        f"create temp table gift_batch (gift_id text, {cols}, present text) on commit drop"
    )
    conn.execute(
        "create temp table gift_rejects (gift_id text, reject_reason text, raw_values jsonb) "
        "on commit drop"
    )


def _parsed_chunks(batches, latest, result: SyncResult, rejects: list, size: int):
    """Parse Redis batches into COPY rows, `size` gifts a chunk; broken gifts go to rejects."""
    chunk: list[list] = []
    for batch in batches:
        for gift_id, values in batch:
            if not values:
                result.missing += 1
                continue
            try:
                row, present = parse_gift(gift_id, values, latest)
            except InvalidValue as exc:
                safe_id = gift_id.replace("\x00", "\\x00")
                rejects.append((safe_id, str(exc), json.dumps(printable(values))))
                continue
            # a plain string: psycopg adapts a Python list per row, which costs more
            chunk.append([gift_id, *row, ",".join(present)])
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


COPY_BATCH_SQL = f"copy gift_batch (gift_id, {', '.join(COLUMNS)}, present) from stdin"


def _land_chunk(conn: psycopg.Connection, rows: list[list], result: SyncResult) -> None:
    """COPY one chunk into the temp table and upsert it, set-based, in the open transaction."""
    conn.execute("truncate gift_batch")
    with conn.cursor().copy(COPY_BATCH_SQL) as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(REJECT_NO_CREATOR_SQL)
    result.synced += conn.execute(UPSERT_SQL).fetchone()[0]


def _land_chunks(conn: psycopg.Connection, chunks, result: SyncResult) -> None:
    """Land chunk N in a worker thread while this thread reads and parses chunk N+1.

    PostgreSQL's upsert then runs on the second core instead of after the Python work.
    The connection is used by the worker alone until the last chunk has landed.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gift-land") as worker:
        landing = None
        for chunk in chunks:
            if landing is not None:
                landing.result()  # one chunk in flight; a failure surfaces here
            landing = worker.submit(_land_chunk, conn, chunk, result)
        if landing is not None:
            landing.result()


def _quarantine(conn: psycopg.Connection, rejects: list, result: SyncResult) -> None:
    with conn.cursor().copy("copy gift_rejects from stdin") as copy:
        for row in rejects:
            copy.write_row(row)
    cur = conn.execute("""
        insert into quarantine.gift_analytics (gift_id, reject_reason, raw_values)
        select distinct on (gift_id) gift_id, reject_reason, raw_values from gift_rejects
        on conflict (gift_id) do update set reject_reason = excluded.reject_reason,
            raw_values = excluded.raw_values, last_rejected_at = now()""")
    result.quarantined = cur.rowcount


def sync_gifts(
    conn: psycopg.Connection,
    r: redis.Redis,
    *,
    keys: GiftKeys | None = None,
    batch_size: int = BATCH_SIZE,
    before_commit: Callable[[], None] | None = None,
    after_commit: Callable[[], None] | None = None,
) -> SyncResult:
    """Sync every dirty gift once. `before_commit`/`after_commit` are test hooks."""
    keys = keys or GiftKeys()
    ensure_tables(conn)
    _acquire_lock(conn)
    result = SyncResult()
    try:
        _set_state(conn, "running", error_message=None)
        result.resumed = bool(r.exists(keys.inflight))
        if claim_batch(r, keys):
            _sync_inflight(conn, r, keys, batch_size, result, before_commit, after_commit)
        result.still_dirty = r.scard(keys.dirty)
        _set_state(
            conn,
            "idle",
            last_run_at=_now(conn),
            items_processed=result.synced,
            items_quarantined=result.quarantined,
        )
        return result
    except Exception as exc:
        # A lost connection cannot record anything: the original error must still surface.
        with contextlib.suppress(psycopg.Error):
            conn.rollback()
            _set_state(conn, "error", last_run_at=_now(conn), error_message=str(exc)[:2000])
        raise
    finally:
        with contextlib.suppress(psycopg.Error):  # a dead session has released it already
            conn.execute("select pg_advisory_unlock(hashtext(%s))", [SYNC_ID])
            conn.commit()


def _sync_inflight(conn, r, keys, batch_size, result, before_commit, after_commit) -> None:
    rejects: list[tuple[str, str, str]] = []
    _create_batch_table(conn)
    # Clocks skew; a timestamp more than a day ahead of the warehouse is a broken value.
    latest = conn.execute("select now() + interval '1 day'").fetchone()[0]
    reader = text_client(r)
    try:
        batches = read_inflight(reader, keys, batch_size)
        _land_chunks(conn, _parsed_chunks(batches, latest, result, rejects, CHUNK_SIZE), result)
    finally:
        reader.connection_pool.disconnect()
    _quarantine(conn, rejects, result)
    if before_commit:
        before_commit()
    conn.commit()
    if after_commit:
        after_commit()
    r.delete(keys.inflight)


def _now(conn: psycopg.Connection):
    return conn.execute("select now()").fetchone()[0]
