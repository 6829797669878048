"""YesGoddess events written the way seed 001's app sends them (`props_json` with
`revenueCents`), checked in the marts by hand: the nightly job "sums `revenueCents` from
event props". The snake_case name a backend may write is accepted too, and a conversion
carrying neither is counted and warned about, never silently 0."""

from __future__ import annotations

import json

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.yesgoddess import create_tables
from tests.conftest import run_dbt

SCHEMA = "yg_seed_shapes"
DAY = "2026-03-10"
# (id, event_type, actor, license, props_json) on project P1, asset A1
EVENTS = [
    ("e1", "license_created", "brand-1", "L1", {"revenueCents": 2500}),  # seed 001's name
    ("e2", "license_created", "brand-2", "L2", {"revenue_cents": 1000}),  # snake_case
    ("e3", "license_created", "brand-3", "L3", {"plan": "free"}),  # no revenue at all
    ("e4", "asset_viewed", "brand-1", None, {}),
    ("e5", "asset_viewed", "brand-2", None, {}),
    ("e6", "license_clicked", "brand-1", None, {}),
]


@pytest.fixture
def metrics(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")
        create_tables(app, schema=SCHEMA)
        with app.cursor() as cur:
            cur.executemany(
                f"insert into {SCHEMA}.events (id, occurred_at, source, event_type, actor_type, "
                "actor_id, project_id, ip_asset_id, license_id, props_json, session_id, "
                "created_at) values (%s, %s::timestamptz, 'web', %s, 'brand', %s, 'P1', 'A1', "
                "%s, %s, 's-' || %s, %s::timestamptz)",
                [
                    (id_, f"{DAY} 12:00+00", kind, actor, lic, json.dumps(props), actor,
                     f"{DAY} 12:00+00")
                    for id_, kind, actor, lic, props in EVENTS
                ],
            )  # fmt: skip
    extract_load_system(conn, warehouse_url, "yesgoddess", schema=SCHEMA)
    build = run_dbt(
        "build", "--select", "yesgoddess_event_types", "stg_yesgoddess__events+",
        "--exclude", "int_user_days_unioned+", "fct_campaign_performance_daily+",
        "fct_traffic_by_device_daily+", "int_sessions_attributed+",
    )  # fmt: skip
    yield conn, build.stdout
    with psycopg.connect(warehouse_url, autocommit=True) as app:
        app.execute(f"drop schema if exists {SCHEMA} cascade")


def test_revenue_cents_sums_the_seeds_revenueCents_prop(metrics):
    conn, _ = metrics
    rows = conn.execute(
        "select license_id, revenue_cents, conversions from marts.fct_daily_metrics "
        "where date = %s and license_id is not null order by license_id",
        [DAY],
    ).fetchall()
    assert rows == [("L1", 2500, 1), ("L2", 1000, 1), ("L3", 0, 1)]
    views, clicks = conn.execute(
        "select sum(views), sum(clicks) from marts.fct_daily_metrics where date = %s", [DAY]
    ).fetchone()
    assert (views, clicks) == (2, 1)


def test_a_conversion_without_revenue_is_counted_and_warned(metrics):
    conn, dbt_output = metrics
    missing = conn.execute(
        "select license_id, (metadata ->> 'conversions_without_revenue')::int "
        "from marts.fct_daily_metrics where date = %s and license_id is not null "
        "order by license_id",
        [DAY],
    ).fetchall()
    assert missing == [("L1", 0), ("L2", 0), ("L3", 1)]
    assert "WARN 1 assert_conversions_carry_revenue" in dbt_output
