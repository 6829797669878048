"""Redis → `raw.mashups__realtime_counts`: the Mashups realtime counters as a Dagster asset."""

import redis as redis_lib
from dagster import AssetExecutionContext, Failure, MaterializeResult, asset

from dagster_project.assets.sources import MASHUP_COUNTERS_SOURCE_KEY
from dagster_project.checks.freshness import raw_freshness_policy
from dagster_project.ingest.redis_mashup_counters import (
    CounterKeys,
    SyncAlreadyRunning,
    sync_mashup_counters,
)
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.run_policies import TRANSIENT_RETRY, failures_classified
from dagster_project.settings import mashup_counters_scan, mashup_key_prefix, mashup_redis_url


def mashup_redis_client(redis: RedisResource) -> redis_lib.Redis:
    """The Mashups app's Redis: MASHUP_REDIS_URL, else the project's (REDIS_URL)."""
    url = mashup_redis_url()
    return redis_lib.Redis.from_url(url) if url else redis.client()


@asset(
    key=["raw", "mashups__realtime_counts"],
    deps=[MASHUP_COUNTERS_SOURCE_KEY],
    group_name="raw",
    kinds={"redis", "postgres"},
    freshness_policy=raw_freshness_policy(),
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Mashups realtime counters (seed 004 `mashup:{id}:plays` / `:likes`) synced from "
        "Redis without losing an increment: the dirty set `mashup:dirty` is renamed to an "
        "in-flight key (or, with MASHUP_COUNTERS_SCAN=1, the counters are found by SCAN — "
        "never KEYS), a Lua script per page moves each count into the in-flight hash "
        "`mashup:sync:inflight` (GET + DECRBY, atomic), the hash is COPYed into raw with "
        "its batch id, and deleted only after the commit; a crashed batch is resumed "
        "first and lands once. Counters that are not positive integers stay in Redis and "
        "go to quarantine.mashups__realtime_counters."
    ),
)
def mashups__realtime_counts(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    keys = CounterKeys(mashup_key_prefix())
    with failures_classified("mashup counter sync"):
        try:
            with warehouse.connect() as conn, mashup_redis_client(redis) as client:
                result = sync_mashup_counters(conn, client, keys=keys, scan=mashup_counters_scan())
        except SyncAlreadyRunning as exc:
            raise Failure(description=str(exc), allow_retries=False) from None
    context.log.info(
        f"took {result.keys_taken} counter keys; landed {result.plays} plays and "
        f"{result.likes} likes; quarantined {result.quarantined} keys; "
        f"{result.still_dirty} mashups dirtied meanwhile"
        + (" (resumed a crashed batch)" if result.resumed else "")
    )
    return MaterializeResult(
        metadata={
            "keys_taken": result.keys_taken,
            "plays": result.plays,
            "likes": result.likes,
            "batches_landed": result.batches_landed,
            "keys_quarantined": result.quarantined,
            "still_dirty": result.still_dirty,
            "resumed_inflight": result.resumed,
            "resumed_batch_already_landed": result.already_landed,
        }
    )
