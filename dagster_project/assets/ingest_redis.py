"""Redis → `raw.gift_analytics`: the CryptoGift dirty-set sync as a Dagster asset."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    asset,
    asset_check,
)

from dagster_project.assets.sources import GIFT_SOURCE_KEY
from dagster_project.ingest.redis_gifts import GiftKeys, SyncAlreadyRunning, sync_gifts
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.settings import gift_key_prefix

QUARANTINE_WARN_SHARE = 0.01  # above 1 % of gifts rejected, someone should look


@asset(
    key=["raw", "gift_analytics"],
    deps=[GIFT_SOURCE_KEY],
    group_name="raw",
    kinds={"redis", "postgres"},
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


@asset_check(
    asset=gift_analytics,
    description="Share of gifts in quarantine.gift_analytics; warns above 1 %.",
)
def gift_quarantine_rate(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as conn:
        landed, rejected, example = conn.execute("""
            select (select count(*) from raw.gift_analytics),
                   (select count(*) from quarantine.gift_analytics),
                   (select reject_reason from quarantine.gift_analytics
                    order by last_rejected_at desc limit 1)""").fetchone()
    share = rejected / max(1, landed + rejected)
    return AssetCheckResult(
        passed=share <= QUARANTINE_WARN_SHARE,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantined": rejected,
            "landed": landed,
            "quarantine_share_pct": round(share * 100, 3),
            "latest_reason": example or "",
        },
    )
