"""The one Definitions object, assembled explicitly."""

from __future__ import annotations

from dagster import Definitions
from dagster_dbt import DbtCliResource

from dagster_project.assets.dbt import daily_dbt_assets, warehouse_dbt_assets
from dagster_project.assets.enrich import user_agents
from dagster_project.assets.exports import EXPORT_ASSETS, ml_dataset_job
from dagster_project.assets.ingest_mashup_counters import mashups__realtime_counts
from dagster_project.assets.ingest_redis import gift_analytics
from dagster_project.assets.ingest_sources import source_table_asset
from dagster_project.assets.maintenance import raw_retention_job, raw_retention_schedule
from dagster_project.assets.sources import SOURCE_SPECS
from dagster_project.checks import ASSET_CHECKS, AlertThresholds
from dagster_project.exports.ops import export_cleanup_job, export_file_job
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.jobs import (
    apps_daily_job,
    daily_marts_job,
    gift_refresh_job,
    mashup_counters_job,
    mashups_events_job,
)
from dagster_project.project import DBT_EXECUTABLE, dbt_project
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.schedules import (
    apps_nightly_schedule,
    export_cleanup_schedule,
    mashups_events_schedule,
    ml_dataset_nightly_schedule,
)
from dagster_project.sensors import (
    export_request_sensor,
    gift_dirty_sensor,
    late_arrival_sensor,
    mashup_counters_sensor,
)

defs = Definitions(
    assets=[
        gift_analytics,
        mashups__realtime_counts,
        *(source_table_asset(spec) for spec in SOURCE_TABLES),
        user_agents,
        warehouse_dbt_assets,
        daily_dbt_assets,
        *EXPORT_ASSETS,
        *SOURCE_SPECS,
    ],
    asset_checks=ASSET_CHECKS,
    jobs=[
        gift_refresh_job,
        mashup_counters_job,
        mashups_events_job,
        apps_daily_job,
        daily_marts_job,
        export_file_job,
        export_cleanup_job,
        ml_dataset_job,
        raw_retention_job,
    ],
    schedules=[
        apps_nightly_schedule,
        ml_dataset_nightly_schedule,
        export_cleanup_schedule,
        mashups_events_schedule,
        raw_retention_schedule,
    ],
    sensors=[
        gift_dirty_sensor,
        mashup_counters_sensor,
        late_arrival_sensor,
        export_request_sensor,
    ],
    resources={
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
        "alert_thresholds": AlertThresholds.from_env(),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE),
    },
)
