"""Lossless sync of the Mashups realtime counters (seed 004) from Redis into
`raw.mashups__realtime_counts`.

The seed's `syncToDatabase` walks `KEYS mashup:*:plays` (which blocks Redis for the whole
keyspace), GETs each counter and then `SET`s it to 0: a play counted between the GET and
the SET is lost. Here, per sync:

1. a batch left by a crashed run is finished first: the in-flight hash
   `{prefix}sync:inflight` holds the counts taken out of Redis and their `batch_id`. If
   that batch id is already in raw (the crash came after the commit, before the DEL), the
   hash is only deleted; otherwise it is landed. Nothing is counted twice.
2. the keys to take: the app's dirty set `{prefix}dirty` (ids it SADDs beside each INCR)
   is RENAMEd to `{prefix}dirty:inflight` in one atomic step, as the gift sync does, and
   read with SSCAN; with the opt-in SCAN mode (an app without a dirty set), also
   `SCAN MATCH {prefix}*:plays` / `*:likes`, cursor based. Never `KEYS`.
3. each page of counter keys is taken over by one Lua script (EVALSHA): for every key,
   n = GET; if n > 0 then HINCRBY the in-flight hash by n and DECRBY the key by n. The
   script is atomic, so no INCR falls between the read and the decrement, and an INCR
   after it stays in the key for the next sync (SET 0 would erase it). A key brought
   to 0 is deleted. A value that is not a positive integer is left in Redis as it is and
   quarantined (`quarantine.mashups__realtime_counters`) with the key and the value.
4. the in-flight hash is read (HSCAN), COPYed into PostgreSQL and inserted with its batch
   id in one transaction; only after the commit are the in-flight hash and the in-flight
   dirty set deleted.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import psycopg
import redis

from dagster_project.ingest import sync_state
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.settings import DEFAULT_MASHUP_KEY_PREFIX

SYNC_ID = "mashup_counters_redis_sync"
METRICS = ("plays", "likes")
PAGE_SIZE = 1000  # dirty ids per SSCAN page / keys per SCAN page, one script call each
BATCH_FIELD = b"batch_id"  # the in-flight hash's batch id; counter fields are "{id}:{metric}"
MAX_DIGITS = 18  # a larger count would overflow the in-flight sums (int64)
SyncAlreadyRunning = sync_state.SyncAlreadyRunning

# KEYS[1]: the in-flight hash; KEYS[2..]: counter keys. ARGV[1]: the batch id; ARGV[i]:
# the in-flight hash field of KEYS[i] ("{mashupId}:{metric}").
# Returns {keys taken, {{key, 'value' | 'type', the value or the Redis type}, …}}.
TAKE_SCRIPT = """
local inflight = KEYS[1]
local taken, bad = 0, {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local v = redis.pcall('GET', key)
  if type(v) == 'table' and v.err then
    bad[#bad + 1] = {key, 'type', redis.call('TYPE', key).ok}
  elseif v then
    if string.match(v, '^[1-9]%d*$') and #v <= {max_digits} then
      redis.call('HSETNX', inflight, 'batch_id', ARGV[1])
      redis.call('HINCRBY', inflight, ARGV[i], v)
      if redis.call('DECRBY', key, v) == 0 then
        redis.call('DEL', key)
      end
      taken = taken + 1
    elseif v ~= '0' then
      bad[#bad + 1] = {key, 'value', v}
    end
  end
end
return {taken, bad}
""".replace("{max_digits}", str(MAX_DIGITS))

# hook(stage): test hook, called with "before_take" (a page of keys read, not yet taken),
# "after_take" (the page taken), "before_commit" and "after_commit" (of a landing batch)
Hook = Callable[[str], None]


@dataclass
class CounterSyncResult:
    keys_taken: int = 0  # counter keys with a positive count taken out of Redis by this run
    plays: int = 0  # plays landed in raw by this run (a resumed batch included)
    likes: int = 0  # likes landed in raw by this run
    batches_landed: int = 0  # in-flight batches inserted into raw
    quarantined: int = 0  # counter keys quarantined (left in Redis)
    resumed: bool = False  # an in-flight batch or dirty set left by a crash was finished
    already_landed: bool = False  # …and its batch was already in raw: only deleted
    still_dirty: int = 0  # ids dirtied while we ran: the next run takes them


@dataclass(frozen=True)
class CounterKeys:
    prefix: str = DEFAULT_MASHUP_KEY_PREFIX

    @property
    def dirty(self) -> str:
        return f"{self.prefix}dirty"

    @property
    def dirty_inflight(self) -> str:
        return f"{self.prefix}dirty:inflight"

    @property
    def inflight(self) -> str:
        """The counts taken out of the counters and not yet committed to PostgreSQL."""
        return f"{self.prefix}sync:inflight"

    def counter(self, mashup_id: str, metric: str) -> str:
        return f"{self.prefix}{mashup_id}:{metric}"

    def scan_pattern(self, metric: str) -> str:
        return f"{_glob_escape(self.prefix)}*:{metric}"


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


@dataclass(frozen=True)
class Reject:
    key: str
    reason: str
    value: str | None


def _text(raw: bytes) -> str:
    """Readable text of Redis bytes for a message (invalid UTF-8 shown as \\x.. escapes, and
    NUL too: PostgreSQL text cannot hold it)."""
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


# --- which keys -----------------------------------------------------------------------


def claim_dirty(r: redis.Redis, keys: CounterKeys) -> bool:
    """Make the in-flight dirty set hold the ids to take; True if it was left by a crash.

    RENAMENX never overwrites an in-flight set a crashed run left; taking its ids again
    is harmless (each take moves only what the counter holds now)."""
    if r.exists(keys.dirty_inflight):
        return True
    with contextlib.suppress(redis.exceptions.ResponseError):  # no dirty set: nothing dirty
        r.renamenx(keys.dirty, keys.dirty_inflight)
    return False


def dirty_pages(r: redis.Redis, keys: CounterKeys, page_size: int) -> Iterator[list[bytes]]:
    """Counter keys of the in-flight dirty ids, one page per SSCAN call."""
    prefix, cursor = keys.prefix.encode(), 0
    while True:
        cursor, ids = r.sscan(keys.dirty_inflight, cursor=cursor, count=page_size)
        page = [prefix + i + b":" + m.encode() for i in ids for m in METRICS]
        if page:
            yield page
        if cursor == 0:
            return


def scan_pages(r: redis.Redis, keys: CounterKeys, page_size: int) -> Iterator[list[bytes]]:
    """Every counter key, by cursor-based SCAN MATCH (never KEYS), one page per call."""
    for metric in METRICS:
        cursor = 0
        while True:
            cursor, found = r.scan(cursor=cursor, match=keys.scan_pattern(metric), count=page_size)
            if found:
                yield found
            if cursor == 0:
                break


def _split(keys: CounterKeys, key: bytes) -> tuple[str, str] | None:
    """(mashup id, metric) of a counter key, or None if the id is empty, not UTF-8 or holds
    a NUL (PostgreSQL text cannot: the batch would never land, and block every sync)."""
    body = key[len(keys.prefix.encode()) :]
    raw_id, _, metric = body.rpartition(b":")
    try:
        mashup_id = raw_id.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return (mashup_id, metric.decode()) if mashup_id and "\x00" not in mashup_id else None


# --- take over --------------------------------------------------------------------------


def take_pages(
    r: redis.Redis,
    keys: CounterKeys,
    pages: Iterable[list[bytes]],
    batch_id: str,
    result: CounterSyncResult,
    rejects: list[Reject],
    hook: Hook | None,
) -> None:
    """Move each page's counts into the in-flight hash: one EVALSHA per page."""
    take = r.register_script(TAKE_SCRIPT)
    for page in pages:
        counters, fields, unnamed = [], [], []
        for key in dict.fromkeys(page):  # SCAN may repeat a key
            parts = _split(keys, key)
            if parts is None:
                unnamed.append(key)
                continue
            counters.append(key)
            fields.append(f"{parts[0]}:{parts[1]}".encode())
        if unnamed:
            rejects.extend(_unnamed(r, unnamed))
        if hook:
            hook("before_take")
        if counters:
            taken, bad = take(keys=[keys.inflight, *counters], args=[batch_id, *fields])
            result.keys_taken += taken
            rejects.extend(_bad_counter(key, kind, value) for key, kind, value in bad)
        if hook:
            hook("after_take")


def _bad_counter(key: bytes, kind: bytes, value: bytes) -> Reject:
    name, shown = _text(key), _text(value)
    if kind == b"type":
        reason = (
            f"counter {name} holds a Redis {shown}, not a string counter (WRONGTYPE); "
            "left in Redis as it is"
        )
        return Reject(name, reason, f"<{shown}>")
    if shown.startswith("-") and shown[1:].isdigit():
        problem = "a negative count"
    elif shown.isdigit():
        problem = f"a count of more than {MAX_DIGITS} digits"
    else:
        problem = "not an integer (INCR fails on it too)"
    reason = f"counter {name} holds {shown!r}: {problem}; left in Redis as it is"
    return Reject(name, reason, shown)


def _unnamed(r: redis.Redis, found: list[bytes]) -> list[Reject]:
    """Counter keys with an empty or non-UTF-8 mashup id: named with their value, untaken."""
    pipe = r.pipeline(transaction=False)
    for key in found:
        pipe.get(key)
    rejects = []
    for key, value in zip(found, pipe.execute(raise_on_error=False), strict=True):
        if value is None:
            continue  # a dirty id without a counter of this metric
        shown = _text(value) if isinstance(value, bytes) else "<not a string>"
        reason = (
            f"counter {_text(key)} names no usable mashup id (empty or not UTF-8); it "
            f"holds {shown!r} and is left in Redis as it is"
        )
        rejects.append(Reject(_text(key), reason, shown))
    return rejects


# --- land -------------------------------------------------------------------------------


def read_inflight(r: redis.Redis, keys: CounterKeys, page_size: int):
    """(batch id, [(mashup id, metric, count)]) of the in-flight hash, read by HSCAN."""
    fields = dict(r.hscan_iter(keys.inflight, count=page_size))
    batch_id = fields.pop(BATCH_FIELD, None)
    rows = []
    for field, value in fields.items():
        mashup_id, _, metric = field.decode("utf-8").rpartition(":")
        rows.append((mashup_id, metric, int(value)))
    if rows and batch_id is None:
        raise RuntimeError(
            f"{keys.inflight} holds counts but no {BATCH_FIELD.decode()} field: it was not "
            "written by this sync; nothing was landed or deleted"
        )
    return (batch_id.decode() if batch_id else None), rows


def _landed(conn: psycopg.Connection, batch_id: str) -> bool:
    return conn.execute(
        "select exists (select from raw.mashups__realtime_counts where batch_id = %s)",
        [batch_id],
    ).fetchone()[0]


def _insert(conn: psycopg.Connection, keys: CounterKeys, batch_id: str, rows) -> None:
    conn.execute(
        "create temp table mashup_count_batch (mashup_id text, metric text, count bigint) "
        "on commit drop"
    )
    with conn.cursor().copy("copy mashup_count_batch from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    conn.execute(
        """
        insert into raw.mashups__realtime_counts (batch_id, mashup_id, metric, count)
        select %(batch)s, mashup_id, metric, count from mashup_count_batch
        on conflict do nothing
        """,
        {"batch": batch_id},
    )
    # a key that lands again was fixed: it leaves quarantine
    conn.execute(
        """
        delete from quarantine.mashups__realtime_counters q using mashup_count_batch b
        where q.redis_key = %(prefix)s || b.mashup_id || ':' || b.metric
        """,
        {"prefix": keys.prefix},
    )


def _quarantine(conn: psycopg.Connection, rejects: list[Reject]) -> int:
    if not rejects:
        return 0
    by_key = {reject.key: reject for reject in rejects}
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into quarantine.mashups__realtime_counters (redis_key, reject_reason, raw_value)
            values (%s, %s, %s)
            on conflict (redis_key) do update set reject_reason = excluded.reject_reason,
                raw_value = excluded.raw_value, last_rejected_at = now()
            """,
            [(r.key, r.reason, r.value) for r in by_key.values()],
        )
    return len(by_key)


def land_inflight(
    conn: psycopg.Connection,
    r: redis.Redis,
    keys: CounterKeys,
    result: CounterSyncResult,
    rejects: list[Reject],
    hook: Hook | None,
    page_size: int,
) -> None:
    """Insert the in-flight batch (unless already landed) and the rejects, commit, and
    only then delete the in-flight hash."""
    batch_id, rows = read_inflight(r, keys, page_size)
    if batch_id is not None and _landed(conn, batch_id):
        result.already_landed = True  # committed by a run that crashed before the DEL
    elif rows:
        _insert(conn, keys, batch_id, rows)
        result.batches_landed += 1
        result.plays += sum(n for _, metric, n in rows if metric == "plays")
        result.likes += sum(n for _, metric, n in rows if metric == "likes")
    result.quarantined += _quarantine(conn, rejects)
    if hook:
        hook("before_commit")
    conn.commit()
    if hook:
        hook("after_commit")
    r.delete(keys.inflight)


# --- the sync ---------------------------------------------------------------------------


class RedisUnreachable(ConnectionError):
    """Redis went away during a sync: what was committed and what the next run does."""


def _unreachable(r: redis.Redis, keys: CounterKeys, exc: Exception) -> str:
    kwargs = r.connection_pool.connection_kwargs
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    return (
        f"Redis at {where} is unreachable ({exc}). Nothing was lost: counts already "
        f"committed to raw.mashups__realtime_counts stay, counts taken but not committed "
        f"stay in {keys.inflight}, the rest in the counters themselves; the next sync "
        "after Redis is back resumes them and lands each batch once."
    )


def sync_mashup_counters(
    conn: psycopg.Connection,
    r: redis.Redis,
    *,
    keys: CounterKeys | None = None,
    scan: bool = False,
    page_size: int = PAGE_SIZE,
    hook: Hook | None = None,
) -> CounterSyncResult:
    """Land every counted play and like once; refuses (SyncAlreadyRunning) while another
    counter sync runs. `scan=True` also finds counters by SCAN (an app with no dirty set)."""
    keys = keys or CounterKeys()
    ensure_tables(conn)
    sync_state.acquire(conn, SYNC_ID)
    result = CounterSyncResult()
    try:
        sync_state.record(conn, SYNC_ID, "running")
        if r.exists(keys.inflight):  # 1. a crashed run's batch
            result.resumed = True
            land_inflight(conn, r, keys, result, [], hook, page_size)
        result.resumed |= claim_dirty(r, keys)  # 2. which keys
        pages: Iterable[list[bytes]] = dirty_pages(r, keys, page_size)
        if scan:
            pages = _chain(pages, scan_pages(r, keys, page_size))
        rejects: list[Reject] = []
        take_pages(r, keys, pages, uuid.uuid4().hex, result, rejects, hook)  # 3. take over
        if rejects or r.exists(keys.inflight):  # 4. land, commit, then forget
            land_inflight(conn, r, keys, result, rejects, hook, page_size)
        r.delete(keys.dirty_inflight)
        result.still_dirty = r.scard(keys.dirty)
        sync_state.record_success(
            conn,
            SYNC_ID,
            items_processed=result.plays + result.likes,
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


def _chain(*iterables: Iterable[list[bytes]]) -> Iterator[list[bytes]]:
    for iterable in iterables:
        yield from iterable


def pending_counters(r: redis.Redis, keys: CounterKeys) -> int:
    """What a sync would find without SCAN: dirty ids plus a crashed run's batch."""
    pipe = r.pipeline(transaction=False)
    pipe.scard(keys.dirty)
    pipe.scard(keys.dirty_inflight)
    pipe.hlen(keys.inflight)
    return sum(pipe.execute())
