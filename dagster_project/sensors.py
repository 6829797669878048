"""Sensors: react to the source systems."""

import json
from datetime import date, datetime, timedelta

import psycopg
from dagster import (
    AssetRecordsFilter,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project.assets.dbt import READ_FROM, daily_dbt_assets
from dagster_project.exports.cleanup import STUCK_AFTER_MINUTES, fail_stuck_requests
from dagster_project.exports.ops import (
    EXPORT_REQUEST_TAG,
    export_file_job,
    live_export_request_ids,
)
from dagster_project.exports.service import screen_preparing
from dagster_project.ingest.late_arrivals import landed_days
from dagster_project.ingest.redis_gifts import GiftKeys
from dagster_project.ingest.redis_mashup_counters import CounterKeys, pending_counters
from dagster_project.ingest.retention import recorded_horizons
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.jobs import daily_marts_job, gift_refresh_job, mashup_counters_job
from dagster_project.partitions import PARTITIONS_START, daily_partitions
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.settings import (
    gift_key_prefix,
    mashup_counters_scan,
    mashup_key_prefix,
    mashup_redis_url,
)

ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@sensor(
    job=gift_refresh_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 5 minutes (the seed's cron): when gift:analytics:dirty (or an in-flight key "
        "left by a crash) holds ids, run gift_refresh — the Redis sync, then the gift marts."
    ),
)
def gift_dirty_sensor(context: SensorEvaluationContext, redis: RedisResource):
    keys = GiftKeys(gift_key_prefix())
    with redis.client() as client:
        pending = client.scard(keys.dirty) + client.scard(keys.inflight)
    if pending == 0:
        return SkipReason("the dirty set is empty")
    active = context.instance.get_runs(
        RunsFilter(job_name=gift_refresh_job.name, statuses=ACTIVE), limit=1
    )
    if active:
        return SkipReason(f"{pending} dirty gifts wait for run {active[0].run_id} to finish")
    return RunRequest(tags={"dirty_gifts": str(pending)})


@sensor(
    job=mashup_counters_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 5 minutes (seed 004's syncToDatabase): when mashup:dirty (or the in-flight "
        "dirty set or counts hash a crashed sync left) is non-empty — or always, with "
        "MASHUP_COUNTERS_SCAN=1 — run mashup_counters_sync, which lands the Mashups plays "
        "and likes counters in raw.mashups__realtime_counts."
    ),
)
def mashup_counters_sensor(context: SensorEvaluationContext, redis: RedisResource):
    import redis as redis_lib

    keys = CounterKeys(mashup_key_prefix())
    url = mashup_redis_url()
    with redis_lib.Redis.from_url(url) if url else redis.client() as client:
        waiting = pending_counters(client, keys)
    scan = mashup_counters_scan()
    if waiting == 0 and not scan:
        return SkipReason("no mashup counter is dirty and no batch is in flight")
    active = context.instance.get_runs(
        RunsFilter(job_name=mashup_counters_job.name, statuses=ACTIVE), limit=1
    )
    if active:
        return SkipReason(f"{waiting} pending counter items wait for run {active[0].run_id}")
    return RunRequest(tags={"pending_counters": str(waiting), "scan": str(scan).lower()})


def _partition_built_at(instance, asset_keys, day: str) -> float | None:
    """When the newest build of `day` of any of the assets started reading raw (None:
    never built). Rows landed after it may be missing from that build."""
    read_from = []
    for key in asset_keys:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[day]), limit=1
        ).records
        if records:
            meta = records[0].asset_materialization.metadata.get(READ_FROM)
            stamp = datetime.fromisoformat(meta.value).timestamp() if meta else None
            read_from.append(stamp or records[0].timestamp)
    return max(read_from, default=None)


@sensor(
    job=daily_marts_job,
    minimum_interval_seconds=300,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 5 minutes: finds rows with a day (events, ledger entries, purchases) the "
        "extract-load landed for days whose daily marts were already built (late arrivals, "
        "status changes) and re-runs daily_marts for exactly those partitions; the run's "
        "tags name the tables and row times that triggered it."
    ),
)
def late_arrival_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    marks = json.loads(context.cursor) if context.cursor else {}
    with warehouse.connect() as conn:
        landed, failed = _landed_by_day(conn, marks)
    for table, message in failed.items():
        context.log.warning(f"late_arrival_sensor skipped raw.{table} this tick: {message}")
    context.update_cursor(json.dumps(marks))

    partitions = set(daily_partitions.get_partition_keys())
    requests = []
    for day, tables in sorted(landed.items()):
        built_at = _partition_built_at(context.instance, daily_dbt_assets.keys, day)
        newest = max(tables.values())
        if day not in partitions or built_at is None or newest.timestamp() <= built_at:
            continue  # not built yet (the nightly run or a backfill will), or up to date
        requests.append(
            RunRequest(
                partition_key=day,
                run_key=f"late:{day}:{newest.isoformat()}",
                tags={
                    "late_arrivals": ", ".join(f"raw.{t}" for t in sorted(tables)),
                    "landed_up_to": newest.isoformat(),
                },
            )
        )
    if not requests:
        skipped = "".join(f"; raw.{t} skipped: {m}" for t, m in failed.items())
        return SkipReason(
            f"no rows landed for already-built days ({len(landed)} days landed){skipped}"
        )
    return requests


def _landed_by_day(conn, marks: dict) -> tuple[dict[str, dict[str, datetime]], dict[str, str]]:
    """{day: {raw table: newest landing}} of the rows landed since `marks` (advanced in
    place), and {raw table: error} of the tables that could not be read. One bad table
    (a dropped column, a value psycopg cannot read) must not stop the others' rebuilds;
    its mark stays, so the next tick tries it again."""
    landed: dict[str, dict[str, datetime]] = {}  # day -> {raw table: newest landing}
    failed: dict[str, str] = {}
    # days before a table's retention horizon are deleted (and their marts kept as
    # built): a row landing there changes nothing and asks for no rebuild
    horizons = recorded_horizons(conn)
    first_day = date.fromisoformat(PARTITIONS_START)
    for spec in SOURCE_TABLES:
        if spec.event_time is None:
            continue
        since = marks.get(spec.raw_table)
        try:
            days, newest = landed_days(
                conn, spec, since and datetime.fromisoformat(since), first_day
            )
        except psycopg.Error as exc:
            conn.rollback()
            failed[spec.raw_table] = f"{type(exc).__name__}: {exc}".strip()
            continue
        if newest is not None:
            marks[spec.raw_table] = newest.isoformat()
        horizon = horizons.get(spec.raw_table)
        for day, loaded in days.items():
            for back in range(spec.days_read_back + 1):
                if horizon and day - timedelta(days=back) < horizon:
                    continue
                touched = landed.setdefault((day - timedelta(days=back)).isoformat(), {})
                touched[spec.raw_table] = max(loaded, touched.get(spec.raw_table, loaded))
    return landed, failed


@sensor(
    job=export_file_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Every 30 seconds: one export_file run per export request still `preparing` in "
        "ops.export_requests (from `analytics export request`, or a row inserted by hand), "
        "with run key = the request id, so a request is never run twice. A request with a "
        "bad id, dataset, format, range or filter is failed with the reason instead. A "
        f"request whose run ended without finishing it is failed after {STUCK_AFTER_MINUTES} "
        "minutes."
    ),
)
def export_request_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    with warehouse.connect() as conn:
        pending, rejected = screen_preparing(conn)
        for request_id, code, message in rejected:
            context.log.warning(f"export request {request_id!r} failed ({code}): {message}")
        if not pending:
            failed = f" ({len(rejected)} invalid one(s) failed)" if rejected else ""
            return SkipReason(f"no export request is preparing{failed}")
        launched = _requests_with_runs(context.instance, [rid for rid, _, _ in pending])
        new = [(rid, dataset, type_) for rid, dataset, type_ in pending if rid not in launched]
        live = live_export_request_ids(context.instance) | {rid for rid, _, _ in new}
        stuck = fail_stuck_requests(conn, live)
    if stuck:
        context.log.warning(f"failed {len(stuck)} stuck export request(s): {', '.join(stuck)}")
    requests = [
        RunRequest(
            run_key=request_id,
            run_config={"ops": {"write_export_file": {"config": {"request_id": request_id}}}},
            tags={EXPORT_REQUEST_TAG: request_id, "dataset": dataset, "format": type_},
        )
        for request_id, dataset, type_ in new
    ]
    if not requests:
        return SkipReason(f"{len(pending)} preparing export request(s) already have a run")
    return requests


def _requests_with_runs(instance, request_ids: list[str]) -> set[str]:
    """Requests that already have an export_file run (going, or ended before marking the
    request): Dagster never launches a run key twice, and skipping them says so."""
    return {
        record.dagster_run.tags.get(EXPORT_REQUEST_TAG)
        for record in instance.get_run_records(
            RunsFilter(job_name=export_file_job.name, tags={EXPORT_REQUEST_TAG: request_ids})
        )
    }
