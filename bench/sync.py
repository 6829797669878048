"""The production sync (`sync_gifts`) on a freshly simulated dirty set and an empty raw table."""

from __future__ import annotations

from datetime import date

import psycopg
import redis

from bench.environment import Target
from bench.timing import progress, timed
from dagster_project.ingest.redis_gifts import COLUMNS, SyncResult, sync_gifts
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.simulate.gifts import GiftSimulation, clear_gifts, simulate_gifts

SCRATCH = "bench_scratch"  # the bench's own schema for snapshots and hand-written tables


def clear_redis(target: Target, r: redis.Redis) -> int:
    return clear_gifts(r, prefix=target.keys.prefix, counter_prefix=target.counter_prefix)


def fill_redis(target: Target, r: redis.Redis, gifts: int, seed: int, end: date) -> GiftSimulation:
    """Clear the bench keys and simulate `gifts` dirty gifts (same seed + end = same data)."""
    clear_redis(target, r)
    seconds, sim = timed(
        lambda: simulate_gifts(
            r,
            gifts=gifts,
            seed=seed,
            end=end,
            prefix=target.keys.prefix,
            counter_prefix=target.counter_prefix,
        )
    )
    progress(f"simulated {sim.gifts:,} dirty gifts in Redis in {seconds:.1f}s (untimed)")
    return sim


def reset_raw(conn: psycopg.Connection) -> None:
    """An empty raw table (and quarantine), as on a first sync."""
    ensure_tables(conn)
    conn.execute("truncate raw.gift_analytics, quarantine.gift_analytics")
    conn.execute("delete from ops.sync_state where id = 'gift_redis_sync'")
    conn.commit()


def run_sync(target: Target, r: redis.Redis, conn: psycopg.Connection) -> tuple[float, SyncResult]:
    reset_raw(conn)
    seconds, result = timed(lambda: sync_gifts(conn, r, keys=target.keys))
    progress(
        f"sync_gifts: {result.synced:,} landed, {result.quarantined:,} quarantined, "
        f"{result.missing:,} missing in {seconds:.2f}s"
    )
    return seconds, result


def snapshot_raw(conn: psycopg.Connection) -> None:
    """Keep what the sync landed, so the naive loop's rows can be compared with it."""
    conn.execute(f"create schema if not exists {SCRATCH}")
    conn.execute(f"drop table if exists {SCRATCH}.sync_result")
    conn.execute(
        f"create table {SCRATCH}.sync_result as "
        f"select gift_id, {', '.join(COLUMNS)} from raw.gift_analytics"
    )
    conn.commit()


def differs_from_snapshot(conn: psycopg.Connection) -> int:
    """Rows in raw.gift_analytics that are not identical to the sync's landed row."""
    cols = f"gift_id, {', '.join(COLUMNS)}"
    sql = f"""select count(*) from (
        select {cols} from raw.gift_analytics
        except select {cols} from {SCRATCH}.sync_result) as d"""
    count = conn.execute(sql).fetchone()[0]
    conn.commit()
    return count


def bench_sync(target, r, conn, gifts, seed, end, repeat) -> tuple[float, SyncResult]:
    """Best of `repeat` syncs, each of a freshly simulated (identical) dirty set."""
    runs = []
    for i in range(max(1, repeat)):
        fill_redis(target, r, gifts, seed, end)
        progress(f"sync run {i + 1}/{repeat} ...")
        runs.append(run_sync(target, r, conn))
    snapshot_raw(conn)
    return min(runs, key=lambda run: run[0])
