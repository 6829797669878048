"""Schedules: the nightly build of yesterday's events."""

from dagster import DefaultScheduleStatus, build_schedule_from_partitioned_job

from dagster_project.jobs import events_daily_job

# At 02:00 UTC the newest complete daily partition is yesterday: the schedule runs it.
events_nightly_schedule = build_schedule_from_partitioned_job(
    events_daily_job,
    name="events_nightly",
    hour_of_day=2,
    minute_of_hour=0,
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Nightly at 02:00 UTC: events_daily for yesterday — extract-load of the event "
        "sources, staging and quarantine, then yesterday's daily marts."
    ),
)
