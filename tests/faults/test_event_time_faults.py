"""Event times nobody planned for: `infinity`, `-infinity`, year 1, year 294276.

The rule (docs/RELIABILITY.md): staging quarantines each with a reason naming the value
and the rule, the late-arrival sensor never dies on one (nor on a table it cannot read)
and goes on with the other tables.
"""

from __future__ import annotations

import pytest
from dagster import DagsterInstance, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.resources import WarehouseResource
from tests.conftest import land_empty_sources, run_dbt

GOOD_TIME = "2026-03-30 09:00+00"
HOSTILE_TIMES = {  # the value as raw holds it -> what the reason must say
    "infinity": "timestamp infinity is in the future",
    "-infinity": "timestamp -infinity is before 2000-01-01",
    "0001-01-01 00:00+00": "is before 2000-01-01, earlier than any app event",
    "294276-12-31 00:00+00": "is in the future",
}


def _land(conn, table: str, time_column: str, times: list[str]) -> None:
    """Rows as the extract-load leaves them in raw (it copies what the app sent)."""
    if table == "mashups__analytics_events":
        conn.execute(
            "insert into raw.mashups__analytics_events "
            "(ingest_seq, id, user_id, event_type, properties, timestamp, _loaded_at) "
            "select 1000 + n, 'evt-' || n, 'u1', 'mashup_played', "
            '\'{"mashup_id": "m1"}\', t::timestamptz, now() '
            "from unnest(%s::text[]) with ordinality as x(t, n)",
            [times],
        )
    else:
        conn.execute(
            f"insert into raw.{table} (ingest_seq, id, {time_column}, source, event_type, "
            "props_json, created_at, _loaded_at) "
            "select 1000 + n, 'evt-' || n, t::timestamptz, 'web', 'asset_viewed', '{}', "
            "now(), now() from unnest(%s::text[]) with ordinality as x(t, n)",
            [times],
        )
    conn.commit()


@pytest.fixture
def landed(conn, warehouse_url):
    land_empty_sources(conn, warehouse_url, systems=("yesgoddess", "mashups"))
    _land(conn, "mashups__analytics_events", "timestamp", [*HOSTILE_TIMES, GOOD_TIME])
    _land(conn, "yesgoddess__events", "occurred_at", ["infinity", GOOD_TIME])
    return conn


def _tick(cursor=None):
    sensor = defs.resolve_sensor_def("late_arrival_sensor")
    context = build_sensor_context(
        instance=DagsterInstance.ephemeral(),
        resources={"warehouse": WarehouseResource()},
        cursor=cursor,
        repository_def=defs.get_repository_def(),
    )
    return sensor.evaluate_tick(context)


def test_staging_quarantines_each_impossible_time_naming_it(landed):
    run_dbt("build", "--quiet", "--select", "+path:models/quarantine/mashups__analytics_events.sql",
            "+stg_mashups__analytics_events")  # fmt: skip
    rejects = dict(
        landed.execute(
            "select event_id, reject_reason from quarantine.mashups__analytics_events"
        ).fetchall()
    )
    usable = {
        r[0] for r in landed.execute("select event_id from staging.stg_mashups__analytics_events")
    }

    offered = [f"evt-{n}" for n in range(1, len(HOSTILE_TIMES) + 2)]
    assert set(rejects) | usable == set(offered) and not set(rejects) & usable
    for n, reason in enumerate(HOSTILE_TIMES.values(), start=1):
        assert reason in rejects[f"evt-{n}"], rejects
    assert usable == {offered[-1]}


def test_the_sensor_goes_on_past_infinite_times_and_an_unreadable_table(landed):
    first = _tick()
    # the two tables' good rows fall on one day; the infinite ones on none
    assert "(1 days landed)" in first.skip_message, first.skip_message

    # a table the sensor cannot read (its event column dropped) is named; the others go on
    landed.execute('alter table raw.mashups__analytics_events drop column "timestamp" cascade')
    landed.execute(
        "insert into raw.yesgoddess__events (ingest_seq, id, occurred_at, source, event_type, "
        "props_json, created_at, _loaded_at) values (2000, 'evt-late', '2026-03-28 10:00+00', "
        "'web', 'asset_viewed', '{}', now(), now())"
    )
    landed.commit()
    second = _tick(first.cursor)
    assert "(1 days landed)" in second.skip_message  # the yesgoddess row of the 28th
    assert "raw.mashups__analytics_events skipped: UndefinedColumn" in second.skip_message
    assert '"timestamp" does not exist' in second.skip_message
