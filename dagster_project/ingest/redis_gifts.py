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
from dataclasses import dataclass

import psycopg
import redis

from dagster_project.ingest.gift_fields import FIELDS, InvalidValue, decode, parse_gift
from dagster_project.ingest.warehouse_tables import ensure_tables

SYNC_ID = "gift_redis_sync"
BATCH_SIZE = 1000

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
    prefix: str = "gift:analytics:"

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


def read_inflight(
    r: redis.Redis, keys: GiftKeys, batch_size: int = BATCH_SIZE
) -> Iterator[list[tuple[str, dict]]]:
    """SSCAN the in-flight set and HGETALL each batch in one pipeline round trip."""
    seen: set[str] = set()
    cursor = 0
    while True:
        cursor, members = r.sscan(keys.inflight, cursor=cursor, count=batch_size)
        ids = [m.decode() if isinstance(m, bytes) else m for m in members]
        ids = [i for i in ids if i not in seen]  # SSCAN may repeat a member
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


def upsert_sql() -> str:
    """One INSERT … ON CONFLICT. `redis_fields` lists the fields the hash had, so a field
    missing from it keeps the landed value; an empty one (present, blank) lands NULL.
    creator_address is NOT NULL (seed 000): a blank one never clears a landed address."""
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
    # NOT NULL is checked on the proposed row before ON CONFLICT: fill a missing
    # creator from the landed row (a new gift without one was rejected earlier).
    select_cols = ", ".join(
        ["b.gift_id"]
        + [f"coalesce(b.{c}, g.{c})" if c == "creator_address" else f"b.{c}" for c in COLUMNS]
    )
    return f"""
        insert into raw.gift_analytics (gift_id, {cols}, redis_fields, redis_synced_at)
        select {select_cols}, b.present, now()
        from gift_batch b
        left join raw.gift_analytics g on g.gift_id = b.gift_id
        where not b.rejected
        on conflict (gift_id) do update set
            {", ".join(updates)},
            redis_fields = excluded.redis_fields,
            redis_synced_at = excluded.redis_synced_at,
            updated_at = now()
    """


def _create_batch_table(conn: psycopg.Connection) -> None:
    types = {"text": "text", "timestamp": "timestamptz", "integer": "integer", "money": "numeric"}
    cols = ", ".join(f"{f.column} {types[f.kind]}" for f in FIELDS)
    conn.execute(
        f"create temp table gift_batch (gift_id text primary key, {cols}, present text[], "
        "rejected boolean not null default false) on commit drop"
    )
    conn.execute(
        "create temp table gift_rejects (gift_id text, reject_reason text, raw_values jsonb) "
        "on commit drop"
    )


def _copy_batches(conn, batches, result: SyncResult, rejects: list) -> None:
    cols = ["gift_id", *COLUMNS, "present"]
    with conn.cursor().copy(f"copy gift_batch ({', '.join(cols)}) from stdin") as copy:
        for batch in batches:
            for gift_id, raw in batch:
                if not raw:
                    result.missing += 1
                    continue
                values = decode(raw)
                try:
                    row, present = parse_gift(gift_id, values)
                except InvalidValue as exc:
                    rejects.append((gift_id, str(exc), json.dumps(values)))
                    continue
                copy.write_row([gift_id, *row, present])


def _land(conn: psycopg.Connection, rejects: list, result: SyncResult) -> None:
    """Everything set-based, in the caller's transaction: reject, upsert, clear quarantine."""
    with conn.cursor().copy("copy gift_rejects from stdin") as copy:
        for row in rejects:
            copy.write_row(row)
    # A new gift without a creator cannot land (creator_address is NOT NULL).
    conn.execute("""
        insert into gift_rejects
        select b.gift_id, 'gift ' || b.gift_id || ': creator_address is required for a new gift',
               to_jsonb(b) - 'rejected'
        from gift_batch b
        where b.creator_address is null
          and not exists (select 1 from raw.gift_analytics g where g.gift_id = b.gift_id)""")
    conn.execute("""update gift_batch b set rejected = true from gift_rejects r
                    where r.gift_id = b.gift_id""")
    cur = conn.execute(upsert_sql())
    result.synced = cur.rowcount
    cur = conn.execute("""
        insert into quarantine.gift_analytics (gift_id, reject_reason, raw_values)
        select distinct on (gift_id) gift_id, reject_reason, raw_values from gift_rejects
        on conflict (gift_id) do update set reject_reason = excluded.reject_reason,
            raw_values = excluded.raw_values, last_rejected_at = now()""")
    result.quarantined = cur.rowcount
    # A gift that now lands cleanly is no longer a reject.
    conn.execute("""delete from quarantine.gift_analytics q using gift_batch b
                    where q.gift_id = b.gift_id and not b.rejected""")


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
        conn.rollback()
        _set_state(conn, "error", last_run_at=_now(conn), error_message=str(exc)[:2000])
        raise
    finally:
        conn.execute("select pg_advisory_unlock(hashtext(%s))", [SYNC_ID])
        conn.commit()


def _sync_inflight(conn, r, keys, batch_size, result, before_commit, after_commit) -> None:
    rejects: list[tuple[str, str, str]] = []
    _create_batch_table(conn)
    _copy_batches(conn, read_inflight(r, keys, batch_size), result, rejects)
    _land(conn, rejects, result)
    if before_commit:
        before_commit()
    conn.commit()
    if after_commit:
        after_commit()
    r.delete(keys.inflight)


def _now(conn: psycopg.Connection):
    return conn.execute("select now()").fetchone()[0]
