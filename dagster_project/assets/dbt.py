"""Every dbt model, seed and test as Dagster assets and asset checks, in two sets split by
selector: the daily-partitioned incremental marts (tag `daily`) and everything else."""

import json
from datetime import UTC, datetime

from dagster import AssetExecutionContext, BackfillPolicy, Failure, Output
from dagster_dbt import DbtCliInvocation, DbtCliResource, dbt_assets

from dagster_project.dbt_session import dbt_session_settings, explain_lock_timeouts
from dagster_project.dbt_vars import window_vars
from dagster_project.local.environment import apply_env
from dagster_project.partitions import daily_partitions
from dagster_project.project import dbt_project, ensure_manifest
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import (
    DBT_POOL,
    TRANSIENT_RETRY,
    dbt_failure,
    failures_classified,
)
from dagster_project.translator import WarehouseTranslator

DAILY = "tag:daily"
# Dagster runs subsets of these assets in separate steps (the daily marts sit between
# staging and the whole-rebuild marts); a test joins a step only when each model it reads
# is selected or upstream, so a relationships test never runs before its model exists.
BUILD = ["build", "--indirect-selection", "buildable"]
READ_FROM = "raw_read_from"  # materialization metadata: when the build started reading raw


def _run_results(invocation: DbtCliInvocation) -> dict | None:
    try:
        return invocation.get_artifact("run_results.json")
    except FileNotFoundError:  # dbt stopped before writing it
        return None


def run_dbt_build(context: AssetExecutionContext, dbt: DbtCliResource, args: list[str]):
    """Stream a dbt build's events; when it fails, raise a Failure naming each failed model
    or test (and its failing rows), retried only when dbt lost its connection."""
    with failures_classified("dbt build"):
        with dbt_session_settings():  # lock and statement timeouts
            invocation = dbt.cli(args, context=context, raise_on_error=False)
        yield from invocation.stream()
    if not invocation.is_successful():
        error = invocation.get_error()
        results = _run_results(invocation)
        failure = dbt_failure(results, invocation.manifest, str(error or ""))
        raise _with_lock_holders(failure, results)


def _with_lock_holders(failure: Failure, run_results: dict | None) -> Failure:
    """A lock timeout says only that dbt gave up: add who holds each lock, and how to end it."""
    holders = explain_lock_timeouts(run_results, WarehouseResource().connect)
    if not holders:
        return failure
    notes = [
        f"{relation} is locked by " + ("; ".join(lines) or "a session that has since ended")
        for relation, lines in holders.items()
    ]
    return Failure(
        description="\n".join([failure.description or "", *notes]),
        metadata={**failure.metadata, "lock_holders": "\n".join(notes)},
        allow_retries=False,
    )


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    exclude=DAILY,
    retry_policy=TRANSIENT_RETRY,
    pool=DBT_POOL,
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    apply_env(dagster_home=False)  # dbt's profile reads WAREHOUSE_* from the environment
    yield from run_dbt_build(context, dbt, BUILD)


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
    select=DAILY,
    partitions_def=daily_partitions,
    # a backfill of any range is one dbt run over one window [first day, last day + 1)
    backfill_policy=BackfillPolicy.single_run(),
    name="daily_dbt_assets",
    retry_policy=TRANSIENT_RETRY,
    pool=DBT_POOL,
)
def daily_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    apply_env(dagster_home=False)
    window = context.partition_time_window
    dbt_vars = window_vars(window.start, window.end)
    context.log.info(f"partition window [{dbt_vars['min_date']}, {dbt_vars['max_date']})")
    # Rows landed after this moment may be missing from the build: the late-arrival
    # sensor compares it with raw's _loaded_at.
    read_from = datetime.now(UTC).isoformat()
    for event in run_dbt_build(context, dbt, [*BUILD, "--vars", json.dumps(dbt_vars)]):
        if isinstance(event, Output):
            event = event.with_metadata({**event.metadata, READ_FROM: read_from})
        yield event
