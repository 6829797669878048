"""Jobs: named selections of assets that sensors and schedules launch (the export jobs are
in dagster_project/exports/ops.py)."""

from dagster import AssetSelection, define_asset_job

from dagster_project.assets.dbt import daily_dbt_assets
from dagster_project.exports.datasets import DATASETS
from dagster_project.ingest.source_tables import SOURCE_TABLES

# every system with declared app-database tables, in declaration order
SOURCE_SYSTEMS = tuple(dict.fromkeys(spec.system for spec in SOURCE_TABLES))
GIFT_SYNC = AssetSelection.assets(["raw", "gift_analytics"])
MASHUP_COUNTER_SYNC = AssetSelection.assets(["raw", "mashups__realtime_counts"])
# The DAO marts read gifts too (the referrer leaderboard's conversion quality) but mostly
# the DAO tables: apps_daily rebuilds them, not every gift sync.
DAO_MARTS = AssetSelection.groups("marts_dao")
# export files are written on request or on their own schedule, never by a refresh
EXPORTS = AssetSelection.assets(*(["exports", name] for name in DATASETS))

gift_refresh_job = define_asset_job(
    name="gift_refresh",
    selection=GIFT_SYNC.downstream() - DAO_MARTS - EXPORTS,
    description="Sync dirty gifts from Redis, then rebuild and test the gift marts.",
)

_app_sources = (
    AssetSelection.assets(*(spec.asset_key for spec in SOURCE_TABLES)).downstream() - EXPORTS
)

apps_daily_job = define_asset_job(
    name="apps_daily",
    # upstream too: the seeds (taxonomies, aliases) and the gift staging the marts join;
    # not the Redis syncs themselves, which their sensors run when Redis changes
    selection=_app_sources | (_app_sources.upstream() - GIFT_SYNC - MASHUP_COUNTER_SYNC),
    description=(
        "Extract-load every app database (YesGoddess, EverReach, Mashups, Wallet, "
        "CryptoGift DAO), rebuild staging, quarantine and the whole-rebuild marts, then "
        "the daily marts of the partition (a backfill of a range is one run over the "
        "whole window)."
    ),
)

daily_marts_job = define_asset_job(
    name="daily_marts",
    # downstream too: the whole-rebuild marts built on the daily ones (the wallet's
    # running totals) follow a re-built day
    selection=AssetSelection.assets(daily_dbt_assets).downstream() - EXPORTS,
    description=(
        "Rebuild the daily-partitioned marts of a partition from what is landed, then the "
        "marts built on them."
    ),
)

mashup_counters_job = define_asset_job(
    name="mashup_counters_sync",
    # the views over it (staging, marts.mashup_counts_live) read it as it is: no rebuild
    selection=MASHUP_COUNTER_SYNC,
    description=(
        "Sync the Mashups realtime counters (plays, likes) from Redis into "
        "raw.mashups__realtime_counts, losing and doubling no increment."
    ),
)

mashups_events_job = define_asset_job(
    name="mashups_events_realtime",
    # the staging views and marts.mashup_recent_events read raw as it is: no rebuild
    selection=AssetSelection.assets(["raw", "mashups__analytics_events"]),
    description=(
        "Extract-load the Mashups tracking events only (incremental), so the dashboard's "
        "realtime activeUsers and playingNow (marts.mashup_recent_events) are minutes old."
    ),
)
