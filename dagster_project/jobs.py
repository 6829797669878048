"""Jobs: named selections of assets that sensors and schedules launch."""

from dagster import AssetSelection, define_asset_job

from dagster_project.assets.dbt import daily_dbt_assets
from dagster_project.ingest.source_tables import SOURCE_TABLES

EVENT_SYSTEMS = ("yesgoddess", "everreach", "mashups")

# The DAO marts (group marts_dao) read gifts too (the referrer leaderboard's conversion
# quality), but also the DAO tables: they are rebuilt by dao_refresh, not on every gift sync.
DAO_MARTS = AssetSelection.groups("marts_dao")

gift_refresh_job = define_asset_job(
    name="gift_refresh",
    selection=AssetSelection.assets(["raw", "gift_analytics"]).downstream() - DAO_MARTS,
    description="Sync dirty gifts from Redis, then rebuild and test the gift marts.",
)

_dao_sources = AssetSelection.assets(
    *(spec.asset_key for spec in SOURCE_TABLES if spec.system == "cryptogift")
)

dao_refresh_job = define_asset_job(
    name="dao_refresh",
    # the gift staging view too: the leaderboard joins it (the gift sync is not re-run)
    selection=_dao_sources.downstream()
    | AssetSelection.assets(["staging", "stg_cryptogift__gifts"]),
    description=(
        "Extract-load the CryptoGift DAO tables (tasks, referral codes, referrals, rewards), "
        "then rebuild their staging, quarantine and the whole-rebuild marts/dao."
    ),
)

_event_sources = AssetSelection.assets(
    *(spec.asset_key for spec in SOURCE_TABLES if spec.system in EVENT_SYSTEMS)
).downstream()

events_daily_job = define_asset_job(
    name="events_daily",
    # upstream too: the seeds (event taxonomies, aliases) the staging models join
    selection=_event_sources | _event_sources.upstream(),
    description=(
        "Extract-load the YesGoddess, EverReach and Mashups tables, rebuild their staging, "
        "quarantine and whole-rebuild marts, then the daily marts of the partition (a "
        "backfill of a range is one run over the whole window)."
    ),
)

daily_marts_job = define_asset_job(
    name="daily_marts",
    selection=AssetSelection.assets(daily_dbt_assets),
    description="Rebuild the daily-partitioned event marts of a partition from what is landed.",
)
