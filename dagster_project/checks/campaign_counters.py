"""Reconciliation: CryptoGift's Redis campaign counters against the gifts in the warehouse.

The app keeps `{GIFT_COUNTER_PREFIX}{campaignId}:counters` (seed 000: HINCRBY `created`,
`viewed`, `claimed` as each gift reaches the step). The warehouse holds every gift the
sync has seen: landed in raw.gift_analytics or rejected into quarantine.gift_analytics
(a rejected gift still happened; the quarantine check reports it). Per campaign and
counter, counter − warehouse gifts with that step must be 0.

Severity: ERROR when nothing is waiting to sync (dirty and in-flight sets empty), since a
difference then means gifts were lost, double counted, or the app's counters drifted —
the funnel marts are wrong. WARN while gifts are pending: the next sync may close it.
"""

from collections import Counter
from collections.abc import Iterator

import redis
from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from dagster_project.ingest.redis_gifts import GiftKeys
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.settings import gift_counter_prefix, gift_key_prefix

COUNTERS = {"created": "created_at", "viewed": "viewed_at", "claimed": "claimed_at"}
SCAN_BATCH = 1000  # keys per SCAN page and per HGETALL pipeline
SHOWN = 10  # differing campaigns listed in the metadata

# Per campaign, the gifts with each step set: landed ones by their parsed columns,
# rejected ones by the raw values as read from Redis (non-empty, as the app counts).
_WAREHOUSE = """
    with gifts as (
        select nullif(trim(campaign_id), '') as campaign_id,
               gift_created_at is not null as created,
               gift_viewed_at is not null as viewed,
               gift_claimed_at is not null as claimed
        from raw.gift_analytics
        union all
        select nullif(trim(raw_values ->> 'campaign_id'), ''),
               coalesce(trim(raw_values ->> 'created_at'), '') <> '',
               coalesce(trim(raw_values ->> 'viewed_at'), '') <> '',
               coalesce(trim(raw_values ->> 'claimed_at'), '') <> ''
        from quarantine.gift_analytics
    )
    select campaign_id,
           count(*) filter (where created),
           count(*) filter (where viewed),
           count(*) filter (where claimed)
    from gifts
    where campaign_id is not null
    group by campaign_id
"""


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _batches(client: redis.Redis, match: str) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in client.scan_iter(match=match, count=SCAN_BATCH):
        batch.append(key)
        if len(batch) >= SCAN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def redis_counters(client: redis.Redis, prefix: str) -> dict[tuple[str, str], int]:
    """(campaign, counter) → value: SCAN for the counter hashes, HGETALL them in pipelines."""
    counts: dict[tuple[str, str], int] = {}
    suffix = ":counters"
    for keys in _batches(client, _glob_escape(prefix) + "*" + suffix):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        for key, values in zip(keys, pipe.execute(), strict=True):
            campaign = key.decode().removeprefix(prefix).removesuffix(suffix)
            for counter in COUNTERS:
                counts[(campaign, counter)] = int(values.get(counter.encode(), 0))
    return counts


def warehouse_counts(conn) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for campaign, *values in conn.execute(_WAREHOUSE):
        for counter, value in zip(COUNTERS, values, strict=True):
            counts[(campaign, counter)] = value
    return counts


def pending_gifts(client: redis.Redis, keys: GiftKeys) -> int:
    pipe = client.pipeline(transaction=False)
    pipe.scard(keys.dirty)
    pipe.scard(keys.inflight)
    return sum(pipe.execute())


def reconcile(
    in_redis: dict[tuple[str, str], int], in_warehouse: dict[tuple[str, str], int], pending: int
) -> AssetCheckResult:
    campaigns = sorted({c for c, _ in in_redis} | {c for c, _ in in_warehouse})
    differing = []
    totals: Counter = Counter()
    for campaign in campaigns:
        for counter in COUNTERS:
            r = in_redis.get((campaign, counter), 0)
            w = in_warehouse.get((campaign, counter), 0)
            totals[f"redis_{counter}"] += r
            totals[f"warehouse_{counter}"] += w
            totals[f"difference_{counter}"] += r - w
            if r != w:
                differing.append(
                    {"campaign": campaign, "counter": counter, "redis": r, "warehouse": w,
                     "difference": r - w}
                )  # fmt: skip
    bad_campaigns = sorted({d["campaign"] for d in differing})
    if differing:
        first = differing[0]
        description = (
            f"{len(bad_campaigns)} of {len(campaigns)} campaigns differ; first: "
            f"{first['campaign']} {first['counter']} Redis {first['redis']:,} vs warehouse "
            f"{first['warehouse']:,} (difference {first['difference']:+,}); "
            f"{pending:,} gifts pending sync"
        )
    else:
        description = f"{len(campaigns)} campaigns: every counter matches the warehouse"
    return AssetCheckResult(
        passed=not differing,
        severity=AssetCheckSeverity.WARN if pending else AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "campaigns_compared": len(campaigns),
            "campaigns_differing": len(bad_campaigns),
            "counters_differing": len(differing),
            **totals,
            "abs_difference": sum(abs(d["difference"]) for d in differing),
            "gifts_pending_sync": pending,
            "first_differences": differing[:SHOWN],
        },
    )


@asset_check(
    name="campaign_counters_match_warehouse",
    asset=["raw", "gift_analytics"],
    description=(
        "Per campaign, Redis's created/viewed/claimed counters equal the gifts with that "
        "step in the warehouse (landed + quarantined); the difference is in the metadata. "
        "ERROR when nothing is pending sync, WARN while gifts wait in the dirty set."
    ),
)
def campaign_counters_match_warehouse(
    warehouse: WarehouseResource, redis: RedisResource
) -> AssetCheckResult:
    with redis.client() as client:
        in_redis = redis_counters(client, gift_counter_prefix())
        # after the counters: a gift counted above but not yet synced shows as pending
        pending = pending_gifts(client, GiftKeys(gift_key_prefix()))
    with warehouse.connect() as conn:
        in_warehouse = warehouse_counts(conn)
    return reconcile(in_redis, in_warehouse, pending)
