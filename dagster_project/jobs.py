"""Jobs: named selections of assets that sensors and schedules launch, and the export job."""

from dagster import (
    AssetSelection,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    define_asset_job,
    job,
    op,
)

from dagster_project.assets.dbt import daily_dbt_assets
from dagster_project.exports.service import run_export
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.resources import WarehouseResource

# every system with declared app-database tables, in declaration order
SOURCE_SYSTEMS = tuple(dict.fromkeys(spec.system for spec in SOURCE_TABLES))
GIFT_SYNC = AssetSelection.assets(["raw", "gift_analytics"])
# The DAO marts read gifts too (the referrer leaderboard's conversion quality) but mostly
# the DAO tables: apps_daily rebuilds them, not every gift sync.
DAO_MARTS = AssetSelection.groups("marts_dao")

gift_refresh_job = define_asset_job(
    name="gift_refresh",
    selection=GIFT_SYNC.downstream() - DAO_MARTS,
    description="Sync dirty gifts from Redis, then rebuild and test the gift marts.",
)

_app_sources = AssetSelection.assets(*(spec.asset_key for spec in SOURCE_TABLES)).downstream()

apps_daily_job = define_asset_job(
    name="apps_daily",
    # upstream too: the seeds (taxonomies, aliases) and the gift staging the marts join;
    # not the Redis sync itself, which gift_refresh runs when gifts change
    selection=_app_sources | (_app_sources.upstream() - GIFT_SYNC),
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
    selection=AssetSelection.assets(daily_dbt_assets).downstream(),
    description=(
        "Rebuild the daily-partitioned marts of a partition from what is landed, then the "
        "marts built on them."
    ),
)


class ExportFileConfig(Config):
    """Which request of ops.export_requests to write (the sensor sets it)."""

    request_id: str


@op(
    name="write_export_file",
    description=(
        "Validate the export request (dataset, filters, dates, 365-day range, 100k-row "
        "estimate), then stream its rows to ANALYTICS_HOME/exports/ and mark it ready "
        "(expires in 24 h), or failed with seed 002's error code and the reason."
    ),
)
def write_export_file(
    context: OpExecutionContext, config: ExportFileConfig, warehouse: WarehouseResource
) -> Output[str]:
    with warehouse.connect() as conn:
        request = run_export(conn, config.request_id)
    if request is None:
        raise Failure(f"export request {config.request_id!r} not found in ops.export_requests")
    meta = {
        "status": request["status"],
        "dataset": request["dataset"],
        "type": request["type"],
        "filters": MetadataValue.json(request["filters"]),
    }
    if request["status"] == "ready":
        meta |= {"rows": request["actual_rows"], "file": MetadataValue.path(request["file_path"])}
        context.log.info(
            f"export {request['id']}: {request['actual_rows']} rows in {request['file_path']}"
        )
    else:
        meta["error"] = f"{request['error_code']}: {request['error_message']}"
    if request["status"] == "failed":
        raise Failure(
            f"export {request['id']} failed ({request['error_code']}): {request['error_message']}",
            metadata=meta,
        )
    return Output(request["id"], metadata=meta)


@job(
    name="export_file",
    description=(
        "Write one export request of ops.export_requests (seed 002's generate_export_file); "
        "the export_request_sensor launches one run per preparing request."
    ),
    tags={"kind": "export"},
)
def export_file_job():
    write_export_file()
