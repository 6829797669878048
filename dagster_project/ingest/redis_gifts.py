"""Race-safe sync of CryptoGift gift hashes from Redis into `raw.gift_analytics`.

The seed's `SMEMBERS → HGETALL → SREM` loses a change made between the read and the
SREM. Here the dirty set is first *renamed* to an in-flight key (atomic): the app keeps
adding to a fresh live set while we read. Only after Postgres has committed is the
in-flight key deleted. A crash in between leaves the in-flight key, which the next run
resumes; the upsert is idempotent, so at-least-once delivery never double counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
import redis

from dagster_project.ingest import sync_state
from dagster_project.ingest.gift_fields import (
    FIELDS,
    InvalidValue,
    parse_gift,
    printable,
    printable_text,
    quarantine_key,
)
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.settings import DEFAULT_GIFT_KEY_PREFIX

SYNC_ID = "gift_redis_sync"
BATCH_SIZE = 1000  # gifts per SSCAN page and per HGETALL pipeline
CHUNK_SIZE = 10_000  # gifts per COPY + upsert

COLUMNS = [f.column for f in FIELDS]
SyncAlreadyRunning = sync_state.SyncAlreadyRunning


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


@dataclass
class Chunk:
    rows: list[list] = field(default_factory=list)  # COPY rows for gift_batch
    # gifts with a missing or blank creator: they land only if already landed before
    no_creator: dict[str, dict[str, str]] = field(default_factory=dict)


# --- Redis -------------------------------------------------------------------------


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

    Invalid bytes arrive as surrogate escapes, so a key read from a set still names its
    hash exactly, and parse_gift rejects the value instead of landing it altered.
    """
    pool = r.connection_pool
    kwargs = {
        **pool.connection_kwargs,
        "decode_responses": True,
        "encoding_errors": "surrogateescape",
    }
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
            prefix = keys.prefix.encode()
            for gift_id in ids:
                # as bytes: an id with invalid UTF-8 still names its hash exactly
                pipe.hgetall(prefix + gift_id.encode("utf-8", "surrogateescape"))
            hashes = pipe.execute(raise_on_error=False)
            yield list(zip(ids, _name_wrong_types(r, keys, ids, hashes), strict=True))
        if cursor == 0:
            return


class NotAHash(str):
    """In place of a hash: the Redis type the key holds instead (a string, a list, …)."""


def _name_wrong_types(r: redis.Redis, keys: GiftKeys, ids: list[str], hashes: list) -> list:
    """A key holding another type answers WRONGTYPE; one more pipeline asks the few such
    keys their type, so the gift is quarantined with it instead of failing the batch."""
    wrong = [i for i, h in enumerate(hashes) if isinstance(h, redis.exceptions.ResponseError)]
    if not wrong:
        return hashes
    if not all("WRONGTYPE" in str(hashes[i]) for i in wrong):
        raise next(hashes[i] for i in wrong if "WRONGTYPE" not in str(hashes[i]))
    pipe = r.pipeline(transaction=False)
    for i in wrong:
        pipe.type(keys.prefix.encode() + ids[i].encode("utf-8", "surrogateescape"))
    for i, kind in zip(wrong, pipe.execute(), strict=True):
        hashes[i] = NotAHash(kind)
    return hashes


# --- parse -------------------------------------------------------------------------


def parsed_chunks(
    batches: Iterator[list[tuple[str, dict]]],
    latest: datetime,
    result: SyncResult,
    rejects: list[tuple[str, str, str]],
    size: int,
) -> Iterator[Chunk]:
    """Parse Redis batches into chunks of `size` COPY rows; broken gifts go to rejects."""
    chunk = Chunk()
    creator = COLUMNS.index("creator_address")
    for batch in batches:
        for gift_id, values in batch:
            if isinstance(values, NotAHash):
                reason = (
                    f"gift {quarantine_key(gift_id)}: its key holds a {values}, not a hash "
                    "(WRONGTYPE); a gift must be a Redis hash"
                )
                rejects.append(_reject(gift_id, reason, {"_redis_type": str(values)}))
                continue
            if not values:
                result.missing += 1
                continue
            try:
                row, present = parse_gift(gift_id, values, latest)
            except InvalidValue as exc:
                rejects.append(_reject(gift_id, str(exc), values))
                continue
            # a plain string: psycopg adapts a Python list per row, which costs more
            chunk.rows.append([gift_id, *row, ",".join(present)])
            if row[creator] is None:
                chunk.no_creator[gift_id] = values
            if len(chunk.rows) >= size:
                yield chunk
                chunk = Chunk()
    if chunk.rows:
        yield chunk


def _reject(gift_id: str, reason: str, values: dict[str, str]) -> tuple[str, str, str]:
    key, kept = quarantine_key(gift_id), printable(values)
    if key != printable_text(gift_id):  # a cut id: the whole id stays with the values
        kept["_gift_id"] = printable_text(gift_id)
    return key, reason, json.dumps(kept)


# --- land --------------------------------------------------------------------------

COPY_BATCH_SQL = f"copy gift_batch (gift_id, {', '.join(COLUMNS)}, present) from stdin"


def _upsert_sql() -> str:
    """One INSERT … ON CONFLICT per chunk; the gifts it lands leave quarantine.

    `redis_fields` lists the fields the hash had, so a field missing from it keeps the
    landed value; an empty one (present, blank) lands NULL — except creator_address,
    NOT NULL in seed 000 and checked on the proposed row before ON CONFLICT: a blank one
    keeps the landed address (a new gift without one never gets here).
    """
    landed_creator = (
        "(select g.creator_address from raw.gift_analytics g where g.gift_id = b.gift_id)"
    )
    select_cols = ", ".join(
        f"coalesce(b.{c}, {landed_creator})" if c == "creator_address" else f"b.{c}"
        for c in COLUMNS
    )
    updates = []
    for col in COLUMNS:
        new = f"excluded.{col}"
        if col == "creator_address":
            new = f"coalesce(excluded.{col}, gift_analytics.{col})"
        updates.append(
            f"{col} = case when '{col}' = any(excluded.redis_fields) then {new} "
            f"else gift_analytics.{col} end"
        )
    return f"""
        with landed as (
            insert into raw.gift_analytics
                (gift_id, {", ".join(COLUMNS)}, redis_fields, redis_synced_at)
            select b.gift_id, {select_cols}, string_to_array(b.present, ','), now()
            from gift_batch b
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


def _drop_new_gifts_without_creator(conn, chunk: Chunk, rejects: list) -> list[list]:
    """creator_address is required for a new gift; one query per chunk, for the few
    gifts whose hash has none, tells which of them are new."""
    if not chunk.no_creator:
        return chunk.rows
    landed = {
        gift_id
        for (gift_id,) in conn.execute(
            "select gift_id from raw.gift_analytics where gift_id = any(%s)",
            [list(chunk.no_creator)],
        )
    }
    new = set(chunk.no_creator) - landed
    for gift_id in sorted(new):
        values = chunk.no_creator[gift_id]
        state = "blank" if "creator_address" in values else "missing"
        reason = f"gift {gift_id}: creator_address is {state}; it is required for a new gift"
        rejects.append(_reject(gift_id, reason, values))
    return [row for row in chunk.rows if row[0] not in new]


def land_chunk(conn: psycopg.Connection, chunk: Chunk, rejects: list, result: SyncResult) -> None:
    """COPY one chunk into the temp table and upsert it, set-based, in the open transaction."""
    rows = _drop_new_gifts_without_creator(conn, chunk, rejects)
    conn.execute("truncate gift_batch")
    with conn.cursor().copy(COPY_BATCH_SQL) as copy:
        for row in rows:
            copy.write_row(row)
    result.synced += conn.execute(UPSERT_SQL).fetchone()[0]


def land_chunks(conn: psycopg.Connection, chunks, rejects: list, result: SyncResult) -> None:
    """Land chunk N in a worker thread while this thread reads and parses chunk N+1.

    PostgreSQL's upsert then runs on the second core instead of after the Python work.
    The connection is used by the worker alone until the last chunk has landed.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gift-land") as worker:
        landing = None
        try:
            for chunk in chunks:
                if landing is not None:
                    landing.result()  # one chunk in flight; a failure surfaces here
                landing = worker.submit(land_chunk, conn, chunk, rejects, result)
        finally:
            if landing is not None:
                landing.result()  # never leave the connection busy in the worker


def quarantine(conn: psycopg.Connection, rejects: list, result: SyncResult) -> None:
    """Upsert the rejected gifts, one row each, with the reason and the values as read."""
    if not rejects:
        return
    conn.execute(
        "create temp table gift_rejects (gift_id text, reject_reason text, raw_values jsonb) "
        "on commit drop"
    )
    with conn.cursor().copy("copy gift_rejects from stdin") as copy:
        for row in rejects:
            copy.write_row(row)
    result.quarantined = conn.execute("""
        insert into quarantine.gift_analytics (gift_id, reject_reason, raw_values)
        select distinct on (gift_id) gift_id, reject_reason, raw_values from gift_rejects
        on conflict (gift_id) do update set reject_reason = excluded.reject_reason,
            raw_values = excluded.raw_values, last_rejected_at = now()""").rowcount


# --- the sync ----------------------------------------------------------------------


class RedisUnreachable(ConnectionError):
    """Redis went away during a sync: what was committed and what the next run does."""


def _unreachable(r: redis.Redis, keys: GiftKeys, exc: Exception) -> str:
    kwargs = r.connection_pool.connection_kwargs
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    return (
        f"Redis at {where} is unreachable ({exc}). Nothing was lost: gifts already "
        f"committed to raw.gift_analytics stay, the ids being synced stay in "
        f"{keys.inflight} (or {keys.dirty}), and the next sync after Redis is back "
        "resumes them; the upsert lands each gift once."
    )


@dataclass(frozen=True)
class Hooks:
    """Test hooks around the commit, to drive races and crashes deterministically."""

    before_commit: Callable[[], None] | None = None
    after_commit: Callable[[], None] | None = None


def sync_gifts(
    conn: psycopg.Connection,
    r: redis.Redis,
    *,
    keys: GiftKeys | None = None,
    batch_size: int = BATCH_SIZE,
    chunk_size: int = CHUNK_SIZE,
    before_commit: Callable[[], None] | None = None,
    after_commit: Callable[[], None] | None = None,
) -> SyncResult:
    """Sync every dirty gift once; refuses (SyncAlreadyRunning) while another sync runs."""
    keys = keys or GiftKeys()
    ensure_tables(conn)
    sync_state.acquire(conn, SYNC_ID)
    result = SyncResult()
    try:
        sync_state.record(conn, SYNC_ID, "running")
        result.resumed = bool(r.exists(keys.inflight))
        if claim_batch(r, keys):
            hooks = Hooks(before_commit, after_commit)
            _sync_inflight(conn, r, keys, batch_size, chunk_size, result, hooks)
        result.still_dirty = r.scard(keys.dirty)
        sync_state.record_success(
            conn,
            SYNC_ID,
            items_processed=result.synced,
            items_quarantined=result.quarantined,
        )
        return result
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        unreachable = RedisUnreachable(_unreachable(r, keys, exc))
        sync_state.record_failure(conn, SYNC_ID, unreachable)
        raise unreachable from exc
    except BaseException as exc:  # Dagster's run termination is not an Exception
        sync_state.record_failure(conn, SYNC_ID, exc)
        raise
    finally:
        sync_state.release(conn, SYNC_ID)


def _sync_inflight(
    conn: psycopg.Connection,
    r: redis.Redis,
    keys: GiftKeys,
    batch_size: int,
    chunk_size: int,
    result: SyncResult,
    hooks: Hooks,
) -> None:
    """Everything in one transaction; the in-flight key goes only after the commit."""
    rejects: list[tuple[str, str, str]] = []
    _create_batch_table(conn)
    # Clocks skew; a timestamp more than a day ahead of the warehouse is a broken value.
    latest = conn.execute("select now() + interval '1 day'").fetchone()[0]
    reader = text_client(r)
    try:
        batches = read_inflight(reader, keys, batch_size)
        chunks = parsed_chunks(batches, latest, result, rejects, chunk_size)
        land_chunks(conn, chunks, rejects, result)
    finally:
        reader.connection_pool.disconnect()
    quarantine(conn, rejects, result)
    if hooks.before_commit:
        hooks.before_commit()
    conn.commit()
    if hooks.after_commit:
        hooks.after_commit()
    r.delete(keys.inflight)
