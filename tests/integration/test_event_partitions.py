"""Daily partitions through real Dagster: a range is one run, the nightly schedule asks
for yesterday, and late arrivals re-run exactly the days they touch."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib import import_module

import pandas as pd
import psycopg
import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.jobs import SOURCE_SYSTEMS
from dagster_project.resources import WarehouseResource
from dagster_project.simulate.yesgoddess import simulate_yesgoddess

SCHEMA = "yesgoddess_p_src"
METRICS = AssetKey(["marts", "fct_daily_metrics"])
SOURCES = [AssetKey(["raw", "yesgoddess__events"]), AssetKey(["raw", "yesgoddess__attribution"])]


@pytest.fixture
def source(conn, warehouse_url, monkeypatch):
    """Every app database: a schema of the test database each, reached through
    search_path. YesGoddess gets three simulated days; the others stay empty."""
    for system in SOURCE_SYSTEMS:
        schema = f"{system}_p_src"
        with psycopg.connect(warehouse_url) as app:
            app.execute(f"drop schema if exists {schema} cascade")
            import_module(f"dagster_project.simulate.{system}").create_tables(app, schema=schema)
        monkeypatch.setenv(
            f"SOURCE_{system.upper()}_URL", f"{warehouse_url}?options=-csearch_path%3D{schema}"
        )
    with psycopg.connect(warehouse_url) as app:
        simulate_yesgoddess(app, days=3, events_per_day=800, seed=3, end=date(2026, 3, 31),
                            schema=SCHEMA)  # fmt: skip
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        for system in SOURCE_SYSTEMS:
            app.execute(f"drop schema if exists {system}_p_src cascade")


def _run(job: str, instance, *, selection=None, tags=None, partition_key=None):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, asset_selection=selection, tags=tags, partition_key=partition_key,
        raise_on_error=False,
    )  # fmt: skip
    failures = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    assert result.success, [f.message for f in failures if f]
    return result


def _metrics(conn) -> pd.DataFrame:
    cur = conn.execute(
        "select * from marts.fct_daily_metrics order by date, project_id, ip_asset_id, license_id"
    )
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def test_range_run_schedule_and_late_arrivals(source, conn):
    instance = DagsterInstance.ephemeral()
    days = {"2026-03-29", "2026-03-30", "2026-03-31"}
    result = _run(
        "apps_daily", instance,
        tags={"dagster/asset_partition_range_start": "2026-03-29",
              "dagster/asset_partition_range_end": "2026-03-31"},
    )  # fmt: skip
    # one run; each dbt step of the daily marts builds the whole range as one window
    windows = {
        log.user_message
        for log in instance.all_logs(result.run_id)
        if log.user_message.startswith("partition window")
    }
    assert windows == {"partition window [2026-03-29, 2026-04-01)"}
    assert instance.get_materialized_partitions(METRICS) == days
    assert {d.isoformat() for d in _metrics(conn)["date"]} == days
    before = _metrics(conn)

    # the sensor's first look: everything landed before the partitions were built
    sensor = defs.resolve_sensor_def("late_arrival_sensor")
    resources = {"warehouse": WarehouseResource()}
    first = sensor.evaluate_tick(build_sensor_context(instance=instance, resources=resources))
    assert first.run_requests == []

    with psycopg.connect(source) as app:  # a view from March 30th arrives today
        app.execute(
            f"insert into {SCHEMA}.events (id, occurred_at, source, event_type, actor_type, "
            "actor_id, project_id, ip_asset_id, props_json, session_id, created_at) values "
            "('late-1', '2026-03-30 09:00+00', 'web', 'asset_viewed', 'brand', 'late-actor', "
            "'late-project', 'late-asset', '{}', 'late-session', now())"
        )
    _run("apps_daily", instance, selection=SOURCES, partition_key="2026-03-31")
    tick = sensor.evaluate_tick(
        build_sensor_context(
            instance=instance,
            resources=resources,
            cursor=first.cursor,
            repository_def=defs.get_repository_def(),
        )
    )
    assert [r.partition_key for r in tick.run_requests] == ["2026-03-30"]
    assert tick.run_requests[0].tags["late_arrivals"] == "raw.yesgoddess__events"

    _run("daily_marts", instance, partition_key="2026-03-30")
    after = _metrics(conn)
    late = after[after["ip_asset_id"] == "late-asset"]
    assert late["date"].tolist() == [date(2026, 3, 30)] and late["views"].tolist() == [1]
    pd.testing.assert_frame_equal(
        after[after["ip_asset_id"] != "late-asset"].reset_index(drop=True), before
    )  # every other row, of every day, unchanged
    again = sensor.evaluate_tick(
        build_sensor_context(
            instance=instance,
            resources=resources,
            cursor=tick.cursor,
            repository_def=defs.get_repository_def(),
        )
    )
    assert again.run_requests == []  # nothing new landed since


def test_the_nightly_schedule_builds_yesterday():
    schedule = defs.resolve_schedule_def("apps_nightly")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone in (None, "UTC")
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 3, 31, 2, 0, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-30"]
    assert requests[0].job_name in (None, "apps_daily")
