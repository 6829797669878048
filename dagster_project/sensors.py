"""Sensors: react to the source systems."""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from dagster_project.ingest.redis_gifts import GiftKeys
from dagster_project.jobs import gift_refresh_job
from dagster_project.resources import RedisResource
from dagster_project.settings import gift_key_prefix

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
