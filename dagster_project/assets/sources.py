"""The source systems as external assets (group `sources`): every app-database table the
extract-load reads and the Redis gift hashes the gift sync reads. Dagster does not
materialize them; they root the asset graph, so the UI shows one lineage from each
source system through `raw` to the marts and exports."""

from dagster import AssetSpec, MetadataValue

from dagster_project.ingest.source_tables import SOURCE_TABLES, SourceTable
from dagster_project.settings import (
    GIFT_KEY_PREFIX_ENV,
    MASHUP_KEY_PREFIX_ENV,
    MASHUP_REDIS_URL_ENV,
    SYSTEMS,
)

GROUP = "sources"
GIFT_SOURCE_KEY = ["cryptogift_redis", "gifts"]
MASHUP_COUNTERS_SOURCE_KEY = ["mashups_redis", "counters"]

_SYSTEM_NAMES = {
    "cryptogift": "CryptoGift DAO",
    "yesgoddess": "YesGoddess",
    "wallet": "Wallet API",
    "everreach": "EverReach",
    "mashups": "Mashups",
}


def _table_spec(spec: SourceTable) -> AssetSpec:
    schema = spec.schema or "the default schema"
    return AssetSpec(
        key=spec.source_key,
        group_name=GROUP,
        kinds={"postgres"},
        description=(
            f"{_SYSTEM_NAMES[spec.system]} app database table `{spec.table}` ({schema} of "
            f"{spec.url_env}). Read incrementally by its `{spec.cursor}` cursor into "
            f"raw.{spec.raw_table}; not written by this project."
        ),
        metadata={
            "system": spec.system,
            "table": spec.table,
            "url_env": spec.url_env,
            "primary_key": ", ".join(spec.primary_key),
            "cursor": spec.cursor,
            "lands_in": MetadataValue.text(f"raw.{spec.raw_table}"),
        },
        tags={"system": spec.system},
    )


GIFT_SOURCE = AssetSpec(
    key=GIFT_SOURCE_KEY,
    group_name=GROUP,
    kinds={"redis"},
    description=(
        "CryptoGift gift hashes in Redis (REDIS_URL): `<prefix><giftId>` hashes and the "
        "`<prefix>dirty` set of changed ids the app writes (prefix GIFT_REDIS_PREFIX, "
        "default `gift:analytics:`). The gift sync "
        "(raw/gift_analytics) moves the dirty set to an in-flight key and lands the hashes; "
        "not written by this project."
    ),
    metadata={
        "system": "cryptogift",
        "url_env": "REDIS_URL",
        "key_prefix_env": GIFT_KEY_PREFIX_ENV,
        "keys": "{prefix}<giftId> (hash), {prefix}dirty (set), {prefix}dirty:inflight",
        "lands_in": MetadataValue.text("raw.gift_analytics"),
    },
    tags={"system": "cryptogift"},
)

MASHUP_COUNTERS_SOURCE = AssetSpec(
    key=MASHUP_COUNTERS_SOURCE_KEY,
    group_name=GROUP,
    kinds={"redis"},
    description=(
        "Mashups realtime counters in Redis (MASHUP_REDIS_URL, else REDIS_URL): "
        "`<prefix><mashupId>:plays` / `:likes` the app INCRs (seed 004) and the "
        "`<prefix>dirty` set of mashup ids it SADDs beside each INCR (prefix "
        "MASHUP_REDIS_PREFIX, default `mashup:`). The counter sync "
        "(raw/mashups__realtime_counts) moves the counts out atomically; not written by "
        "this project."
    ),
    metadata={
        "system": "mashups",
        "url_env": f"{MASHUP_REDIS_URL_ENV} (else REDIS_URL)",
        "key_prefix_env": MASHUP_KEY_PREFIX_ENV,
        "keys": (
            "{prefix}<mashupId>:plays, {prefix}<mashupId>:likes (integers), {prefix}dirty "
            "(set), {prefix}dirty:inflight, {prefix}sync:inflight (hash)"
        ),
        "lands_in": MetadataValue.text("raw.mashups__realtime_counts"),
    },
    tags={"system": "mashups"},
)

# every table the extract-load reads, then the Redis gifts and the Mashups counters
SOURCE_SPECS = [
    *(_table_spec(spec) for spec in SOURCE_TABLES),
    GIFT_SOURCE,
    MASHUP_COUNTERS_SOURCE,
]

# a system listed in settings but with no declared table would be missing from the graph
_missing = set(SYSTEMS) - {spec.system for spec in SOURCE_TABLES}
if _missing:
    raise RuntimeError(f"systems {sorted(_missing)} have no SourceTable: declare their tables")
