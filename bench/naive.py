"""The seed's loop (seed 000 sync route): SMEMBERS, then per gift HGETALL + one-row upsert
(autocommit, one statement per gift, like the supabase upsert) + SREM."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import redis

from bench.timing import progress, timed
from dagster_project.ingest.gift_fields import InvalidValue, parse_gift
from dagster_project.ingest.redis_gifts import COLUMNS, GiftKeys, text_client

UPSERT = f"""
    insert into raw.gift_analytics (gift_id, {", ".join(COLUMNS)}, redis_synced_at)
    values (%s, {", ".join(["%s"] * len(COLUMNS))}, now())
    on conflict (gift_id) do update set
        {", ".join(f"{c} = excluded.{c}" for c in COLUMNS)},
        redis_synced_at = excluded.redis_synced_at, updated_at = now()
"""


@dataclass
class NaiveRun:
    total_ids: int  # size of the dirty set (SMEMBERS)
    processed: int  # ids the loop went through (the sample)
    upserted: int
    failed: int  # unparseable hashes (the seed logs and leaves them dirty)
    smembers_s: float
    loop_s: float
    ids: list[str]  # every dirty id, for the floors
    differing: int = -1  # landed rows not identical to the sync's (set by the caller)

    @property
    def measured_s(self) -> float:
        return self.smembers_s + self.loop_s

    @property
    def full_s(self) -> float:
        """Time for the whole dirty set: SMEMBERS as measured, the loop scaled linearly."""
        return self.smembers_s + self.loop_s * self.total_ids / max(1, self.processed)

    @property
    def rate(self) -> float:
        return self.total_ids / self.full_s

    @property
    def extrapolated(self) -> bool:
        return self.processed < self.total_ids


def _loop(conn: psycopg.Connection, r: redis.Redis, keys: GiftKeys, ids: list[str]):
    upserted = failed = 0
    for gift_id in ids:
        raw = r.hgetall(keys.gift(gift_id))
        if not raw:
            r.srem(keys.dirty, gift_id)
            continue
        try:
            row, _present = parse_gift(gift_id, raw)
        except InvalidValue:
            failed += 1
            continue
        conn.execute(UPSERT, [gift_id, *row])
        r.srem(keys.dirty, gift_id)
        upserted += 1
    return upserted, failed


def run_naive(conn: psycopg.Connection, r: redis.Redis, keys: GiftKeys, sample: int) -> NaiveRun:
    """`conn` must be autocommit: every upsert is its own transaction, as in the seed."""
    smembers_s, members = timed(lambda: r.smembers(keys.dirty))
    # sorted (untimed) so every run samples the same ids, whatever the set's internal order
    ids = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
    todo = ids[: sample or len(ids)]
    progress(f"naive loop over {len(todo):,} of {len(ids):,} dirty gifts ...")
    text = text_client(r)  # str replies, as the sync gets them
    loop_s, (upserted, failed) = timed(lambda: _loop(conn, text, keys, todo))
    return NaiveRun(len(ids), len(todo), upserted, failed, smembers_s, loop_s, ids)
