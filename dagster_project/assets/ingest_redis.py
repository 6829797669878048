"""Redis → `raw.gift_analytics`: the CryptoGift dirty-set sync as a Dagster asset."""

from dagster import AssetExecutionContext, Failure, MaterializeResult, asset

from dagster_project.assets.sources import GIFT_SOURCE_KEY
from dagster_project.checks.freshness import raw_freshness_policy
from dagster_project.ingest.redis_gifts import GiftKeys, SyncAlreadyRunning, sync_gifts
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.run_policies import REDIS_POOL, TRANSIENT_RETRY, failures_classified
from dagster_project.settings import gift_key_prefix


@asset(
    key=["raw", "gift_analytics"],
    deps=[GIFT_SOURCE_KEY],
    group_name="raw",
    kinds={"redis", "postgres"},
    freshness_policy=raw_freshness_policy(),
    # one gift sync at a time (the sync's own lock refuses a second one anyway)
    pool=REDIS_POOL,
    retry_policy=TRANSIENT_RETRY,
    description=(
        "CryptoGift gift hashes synced from Redis (dirty set → in-flight key → COPY → "
        "upsert). Invalid gifts go to quarantine.gift_analytics. Refuses to run while "
        "another gift sync holds the lock."
    ),
)
def gift_analytics(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    keys = GiftKeys(gift_key_prefix())
    with failures_classified("gift sync"):
        try:
            with warehouse.connect() as conn, redis.client() as client:
                result = sync_gifts(conn, client, keys=keys)
        except SyncAlreadyRunning as exc:
            raise Failure(description=str(exc), allow_retries=False) from None
    context.log.info(
        f"synced {result.synced} gifts, quarantined {result.quarantined}, "
        f"{result.missing} dirty ids had no hash, {result.still_dirty} dirtied meanwhile"
    )
    return MaterializeResult(
        metadata={
            "gifts_synced": result.synced,
            "gifts_quarantined": result.quarantined,
            "still_dirty": result.still_dirty,
            "dirty_ids_without_hash": result.missing,
            "resumed_inflight": result.resumed,
        }
    )
