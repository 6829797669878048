"""Schedules: the nightly build of yesterday's partition of every app, the nightly ML
dataset file, the hourly export clean-up and the Mashups events every 5 minutes."""

from dagster import DefaultScheduleStatus, ScheduleDefinition, build_schedule_from_partitioned_job

from dagster_project.assets.exports import ml_dataset_job
from dagster_project.exports.ops import export_cleanup_job
from dagster_project.jobs import apps_daily_job, mashups_events_job

# At 02:00 UTC the newest complete daily partition is yesterday: the schedule runs it.
apps_nightly_schedule = build_schedule_from_partitioned_job(
    apps_daily_job,
    name="apps_nightly",
    hour_of_day=2,
    minute_of_hour=0,
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Nightly at 02:00 UTC: apps_daily for yesterday — extract-load of every app "
        "database, staging and quarantine, the whole-rebuild marts, then yesterday's "
        "daily marts."
    ),
)

# after apps_nightly (02:00) has built yesterday's ml_response_samples
ml_dataset_nightly_schedule = ScheduleDefinition(
    name="ml_dataset_nightly",
    job=ml_dataset_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Nightly at 03:00 UTC (after apps_nightly): seed 003's ML dataset — "
        "marts.ml_response_samples of the last 30 complete days as CSV in "
        "ANALYTICS_HOME/exports/ (kept 48 h)."
    ),
)

export_cleanup_schedule = ScheduleDefinition(
    name="export_cleanup_hourly",
    job=export_cleanup_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Hourly at :05: mark exports past expires_at `expired` and delete their files; "
        "fail requests stuck in `preparing` with no live run for 5 minutes."
    ),
)

mashups_events_schedule = ScheduleDefinition(
    name="mashups_events_every_5_minutes",
    job=mashups_events_job,
    cron_schedule="*/5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Every 5 minutes: land the Mashups tracking events (mashups_events_realtime), the "
        "realtime dashboard's activeUsers and playingNow read them through "
        "marts.mashup_recent_events. The nightly run lands them too; one sync of an app "
        "database runs at a time."
    ),
)
