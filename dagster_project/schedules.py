"""Schedules: the nightly build of yesterday's partition of every app."""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from dagster_project.jobs import apps_daily_job

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
