"""Maintenance of the landed data: raw retention (seeds 001 and 003) as a job with its
schedule. The job materializes nothing; it logs an observation on each raw asset it
trimmed, so the asset's page in the UI shows what was deleted and up to which day."""

from datetime import UTC, date, datetime

from dagster import (
    AssetObservation,
    Config,
    DefaultScheduleStatus,
    Failure,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)

from dagster_project.ingest.retention import RULES, RetentionResult, batch_rows, run_retention
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import TRANSIENT_RETRY


class RetentionConfig(Config):
    """`today`: the UTC day the windows count back from (default: today). An earlier day
    deletes less (tests, a cautious first run); a later one is refused, because a horizon
    never moves back and the rows it deleted would be gone for good."""

    today: str | None = None


def _today(config: RetentionConfig) -> date | None:
    if not config.today:
        return None
    try:
        day = date.fromisoformat(config.today)
    except ValueError:
        raise Failure(
            f"today={config.today!r} is not an ISO date (YYYY-MM-DD)", allow_retries=False
        ) from None
    if day > datetime.now(UTC).date():
        raise Failure(
            f"today={config.today!r} is after the current UTC date: retention counts back "
            "from today or an earlier day, never a later one (a horizon cannot move back)",
            allow_retries=False,
        )
    return day


def _observation(result: RetentionResult, limit: int) -> AssetObservation:
    rule = next(r for r in RULES if r.raw_table == result.table)
    return AssetObservation(
        asset_key=rule.asset_key,
        description=(
            f"retention: rows with {rule.time_column} before {result.horizon} (UTC) deleted"
        ),
        metadata={
            "rows_deleted": result.rows_deleted,
            "horizon": result.horizon.isoformat(),
            "window_days": result.window_days,
            "window_env": rule.env_var,
            "time_column": rule.time_column,
            "batches": result.batches,
            "largest_batch": result.largest_batch,
            "batch_limit": limit,
            "seconds": round(result.seconds, 3),
            "table_exists": result.table_exists,
        },
    )


@op(
    name="delete_expired_raw_rows",
    description=(
        "For each retained raw table (YesGoddess events and attribution: 730 days; "
        "EverReach app_events: 90, responses: 180, prompts left without a response: 180; "
        "RETENTION_<SYSTEM>__<TABLE>_DAYS overrides), record the horizon in "
        "ops.retention_horizons, then delete the older rows in batches of "
        "RETENTION_BATCH_ROWS (20,000)."
    ),
    # each batch commits, so a retry after a lost connection or a deadlock with an
    # extract-load of the same table carries on where the run stopped
    retry_policy=TRANSIENT_RETRY,
)
def delete_expired_raw_rows(
    context: OpExecutionContext, config: RetentionConfig, warehouse: WarehouseResource
) -> int:
    today = _today(config)
    limit = batch_rows()
    with warehouse.connect() as conn:
        results = run_retention(conn, today=today)
    for result in results:
        context.log.info(
            f"raw.{result.table}: {result.rows_deleted:,} rows before {result.horizon} "
            f"deleted in {result.batches} batches, {result.seconds:.1f}s"
        )
        context.log_event(_observation(result, limit))
    return sum(r.rows_deleted for r in results)


@job(
    name="raw_retention",
    description=(
        "Delete raw event rows older than each system's retention window (seeds 001 and "
        "003), in bounded batches; marts keep the rows of the deleted days."
    ),
)
def raw_retention_job():
    delete_expired_raw_rows()


raw_retention_schedule = ScheduleDefinition(
    name="raw_retention_daily",
    job=raw_retention_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    # Deleting data is opted into: a fresh clone or a demo must never lose history
    # because a daemon happened to be running.
    default_status=DefaultScheduleStatus.STOPPED,
    description=(
        "Daily at 03:30 UTC (after apps_nightly and the ML dataset): raw_retention — "
        "delete YesGoddess events/attribution older than 730 days, EverReach app_events "
        "older than 90 and responses (and orphaned prompts) older than 180 "
        "(RETENTION_<SYSTEM>__<TABLE>_DAYS). Off by default: deleting data is opted into; "
        "turn it on in the UI (Automation) or `dagster schedule start raw_retention_daily "
        "-w workspace.yaml` (docs/OPERATIONS.md)."
    ),
)
