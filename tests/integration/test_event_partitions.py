"""Daily partitions through real Dagster: a range is one run, the nightly schedule asks
for yesterday, and late arrivals re-run exactly the days they touch."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import psycopg
import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.resources import WarehouseResource
from dagster_project.simulate.yesgoddess import create_tables, simulate_yesgoddess

SCHEMA = "ygp_src"
METRICS = AssetKey(["marts", "fct_daily_metrics"])
SOURCES = [AssetKey(["raw", "yesgoddess__events"]), AssetKey(["raw", "yesgoddess__attribution"])]


@pytest.fixture
def source(conn, warehouse_url, monkeypatch):
    """The YesGoddess app database: a schema of the test database, via search_path."""
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)
        simulate_yesgoddess(app, days=3, events_per_day=800, seed=3, end=date(2026, 3, 31),
                            schema=SCHEMA)  # fmt: skip
    monkeypatch.setenv("SOURCE_YESGODDESS_URL", f"{warehouse_url}?options=-csearch_path%3D{SCHEMA}")
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")


def _yesgoddess_lineage() -> set[AssetKey]:
    graph = defs.resolve_asset_graph()
    seeds = {AssetKey(["staging", "yesgoddess_event_types"]),
             AssetKey(["staging", "utm_source_aliases"])}  # fmt: skip
    return _closure(graph, {*SOURCES, AssetKey(["raw", "user_agents"])}) | seeds


def _closure(graph, keys: set[AssetKey]) -> set[AssetKey]:
    todo, seen = list(keys), set(keys)
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _run(job: str, instance, *, selection=None, tags=None, partition_key=None):
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, asset_selection=selection, tags=tags, partition_key=partition_key,
        raise_on_error=False,
    )  # fmt: skip
    assert result.success, [e.message for e in result.all_events if e.is_failure]
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
        "events_daily", instance, selection=list(_yesgoddess_lineage()),
        tags={"dagster/asset_partition_range_start": "2026-03-29",
              "dagster/asset_partition_range_end": "2026-03-31"},
    )  # fmt: skip
    dbt_steps = [e for e in result.all_events if e.event_type_value == "STEP_START"]
    assert len([s for s in dbt_steps if "daily_dbt_assets" in s.step_key]) == 1  # one run
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
    _run("events_daily", instance, selection=SOURCES, partition_key="2026-03-31")
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
    schedule = defs.resolve_schedule_def("events_nightly")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone in (None, "UTC")
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 3, 31, 2, 0, tzinfo=UTC),
            repository_def=defs.get_repository_def(),
        )
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-30"]
    assert requests[0].job_name in (None, "events_daily")
