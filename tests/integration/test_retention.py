"""Raw retention end to end: EverReach's simulated app database plus a bulk copy of it
200 days older, landed and built with real dbt; the `raw_retention` job run through
Dagster deletes what is past each horizon (and nothing else), in bounded batches, with
the counts as observations; then a partition re-run and a full `dbt build` leave the
mart rows of the deleted days exactly as they were built."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.resources import WarehouseResource
from dagster_project.simulate.everreach import create_tables, simulate_everreach
from tests.conftest import PROJECT_SCHEMAS, land_empty_sources, run_dbt

SRC = "er_retention"
END = date(2026, 3, 31)
TODAY = date(2026, 4, 1)
SHIFT = timedelta(days=200)  # the copied history: 2025-08-23 … 2025-09-11
APP_EVENTS_DAYS = 10  # override: the horizon cuts the recent 20 days in half
BATCH = 1_000
HORIZON = {  # first day kept, per raw table
    "everreach__app_events": TODAY - timedelta(days=APP_EVENTS_DAYS),  # 2026-03-22
    "everreach__responses": TODAY - timedelta(days=180),  # 2025-10-03
    "everreach__prompts": TODAY - timedelta(days=180),
}
TIME_COLUMN = {
    "everreach__app_events": ("occurred_at", "ingest_seq"),
    "everreach__responses": ("created_at", "response_id"),
    "everreach__prompts": ("created_at", "prompt_id"),
}
# model → (date column, first day whose rows are rebuilt: the latest horizon it reads)
MARTS = {
    "marts.ml_response_samples": ("date", HORIZON["everreach__app_events"]),
    "marts.fct_ai_response_quality_daily": ("date", HORIZON["everreach__app_events"]),
    "marts.fct_paywall_conversion_daily": ("date", HORIZON["everreach__app_events"]),
    "marts.fct_onboarding_funnel": ("cohort_date", HORIZON["everreach__app_events"]),
    "marts.fct_trial_conversion": ("cohort_date", HORIZON["everreach__app_events"]),
    "intermediate.int_user_days_unioned": ("date", HORIZON["everreach__app_events"]),
    "marts.fct_active_users_daily": ("date", HORIZON["everreach__app_events"]),
}
# recomputed from untouched raw rows, these equal their first build on every day; the
# cohort marts may move near the horizon (a person's earlier events are gone)
EXACT = set(MARTS) - {"marts.fct_onboarding_funnel", "marts.fct_trial_conversion"}
LINEAGE = "@source:everreach"


def _cutoff(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _copy_history_back(app: psycopg.Connection) -> None:
    """Every simulated row again, 200 days older, with its own ids and people (set-based);
    plus an old prompt without response and an old prompt whose response is recent."""
    shift = f"interval '{SHIFT.days} days'"
    app.execute(
        f"""insert into {SRC}.app_events (id, event_name, user_id, anonymous_id, occurred_at,
                context, properties, created_at)
            select 'old-' || id, event_name, 'old-' || user_id, 'old-' || anonymous_id,
                occurred_at - {shift}, context,
                case when jsonb_typeof(properties -> 'response_id') = 'string'
                    then jsonb_set(properties, '{{response_id}}',
                        to_jsonb('old-' || (properties ->> 'response_id')))
                    else properties end,
                created_at - {shift}
            from {SRC}.app_events"""
    )
    app.execute(
        f"""insert into {SRC}.prompts
            select 'old-' || prompt_id, 'old-' || user_id, session_id, contact_id, text, model,
                temperature, tags, created_at - {shift}
            from {SRC}.prompts"""
    )
    app.execute(
        f"""insert into {SRC}.responses
            select 'old-' || response_id, 'old-' || prompt_id, 'old-' || user_id, model, text,
                tokens_out, finish_reason, cost_usd, latency_ms, created_at - {shift}
            from {SRC}.responses"""
    )
    edge = _cutoff(HORIZON["everreach__prompts"])
    app.execute(
        f"""insert into {SRC}.prompts (prompt_id, user_id, text, model, created_at) values
            ('orphan-p', 'u-edge', 'hello', 'gpt', %s), ('edge-p', 'u-edge', 'hi', 'gpt', %s)""",
        [edge - timedelta(days=30), edge - timedelta(hours=1)],
    )
    app.execute(
        f"""insert into {SRC}.responses (response_id, prompt_id, user_id, model, text,
                tokens_out, created_at)
            values ('edge-r', 'edge-p', 'u-edge', 'gpt', 'ok', 3, %s)""",
        [edge + timedelta(hours=1)],
    )


@pytest.fixture(scope="module")
def built():
    url = os.environ["WAREHOUSE_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        for schema in (*PROJECT_SCHEMAS, SRC):
            admin.execute(f"drop schema if exists {schema} cascade")
    with psycopg.connect(url) as app:
        create_tables(app, schema=SRC)
        simulate_everreach(app, days=20, events_per_day=600, seed=5, end=END, schema=SRC)
        _copy_history_back(app)
        app.commit()
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "everreach", schema=SRC)
        land_empty_sources(conn, url, systems=("yesgoddess", "mashups"))
    run_dbt("build", "--quiet", "--select", LINEAGE)
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"drop schema if exists {SRC} cascade")


def _rows(conn, relation: str) -> list[tuple]:
    return sorted(conn.execute(f"select * from {relation}").fetchall(), key=repr)


def _split(conn, relation: str) -> tuple[list[tuple], list[tuple]]:
    """(rows before the model's horizon, rows on or after it)."""
    column, horizon = MARTS[relation]
    cur = conn.execute(f"select * from {relation}")
    index = [c.name for c in cur.description].index(column)
    rows = sorted(cur.fetchall(), key=repr)
    return [r for r in rows if r[index] < horizon], [r for r in rows if r[index] >= horizon]


def _raw_split(conn, table: str) -> tuple[int, int, str]:
    """(rows before the table's horizon, rows on or after it, a digest of the latter's keys)."""
    column, key = TIME_COLUMN[table]
    return conn.execute(
        f"""select count(*) filter (where {column} < %(c)s),
                   count(*) filter (where {column} >= %(c)s),
                   md5(string_agg({key}::text, ',' order by {key}) filter (where {column} >= %(c)s))
            from raw.{table}""",
        {"c": _cutoff(HORIZON[table])},
    ).fetchone()


def _expected_prompt_deletions(conn) -> int:
    """Old prompts no response left after the response deletion refers to."""
    return conn.execute(
        """select count(*) from raw.everreach__prompts p
           where p.created_at < %(c)s and not exists (
               select from raw.everreach__responses r
               where r.prompt_id = p.prompt_id and r.created_at >= %(c)s)""",
        {"c": _cutoff(HORIZON["everreach__responses"])},
    ).fetchone()[0]


@pytest.fixture(scope="module")
def retained(built):
    conn = built
    before_raw = {table: _raw_split(conn, table) for table in TIME_COLUMN}
    before_marts = {relation: _split(conn, relation) for relation in MARTS}
    prompt_deletions = _expected_prompt_deletions(conn)
    env = {"RETENTION_EVERREACH__APP_EVENTS_DAYS": str(APP_EVENTS_DAYS),
           "RETENTION_BATCH_ROWS": str(BATCH)}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = defs.resolve_job_def("raw_retention").execute_in_process(
            run_config={"ops": {"delete_expired_raw_rows": {"config": {"today": str(TODAY)}}}},
            instance=DagsterInstance.ephemeral(),
        )
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert result.success
    return before_raw, before_marts, prompt_deletions, result


def test_old_raw_rows_are_gone_and_newer_ones_untouched(built, retained):
    conn = built
    before_raw, _, prompt_deletions, _ = retained
    for table in ("everreach__app_events", "everreach__responses"):
        old, new, digest = before_raw[table]
        assert old > BATCH  # the fixture spans the window by more than one batch
        assert _raw_split(conn, table) == (0, new, digest), table
    old, new, digest = before_raw["everreach__prompts"]
    assert 0 < prompt_deletions < old  # some old prompts still have a recent response
    assert _raw_split(conn, "everreach__prompts") == (old - prompt_deletions, new, digest)
    kept = conn.execute(
        "select prompt_id from raw.everreach__prompts where prompt_id in ('edge-p', 'orphan-p')"
    ).fetchall()
    assert kept == [("edge-p",)]
    assert (
        conn.execute(
            "select count(*) from staging.stg_everreach__app_events where occurred_at < %s",
            [_cutoff(HORIZON["everreach__app_events"])],
        ).fetchone()[0]
        == 0
    )


def test_observations_carry_the_counts_and_batches_are_bounded(built, retained):
    conn = built
    before_raw, _, prompt_deletions, result = retained
    observed = {
        obs.asset_key.path[1]: {k: v.value for k, v in obs.metadata.items()}
        for obs in result.asset_observations_for_node("delete_expired_raw_rows")
    }
    assert set(observed) == {"yesgoddess__events", "yesgoddess__attribution",
                             *TIME_COLUMN}  # fmt: skip
    expected = {t: before_raw[t][0] for t in TIME_COLUMN} | {
        "everreach__prompts": prompt_deletions, "yesgoddess__events": 0,
        "yesgoddess__attribution": 0,
    }  # fmt: skip
    for table, meta in observed.items():
        assert meta["rows_deleted"] == expected[table], table
        assert meta["batch_limit"] == BATCH
        assert meta["largest_batch"] <= BATCH
        assert meta["batches"] == math.ceil(expected[table] / BATCH), table
    assert observed["everreach__app_events"]["window_days"] == APP_EVENTS_DAYS
    assert observed["everreach__responses"]["window_days"] == 180
    assert observed["yesgoddess__events"]["window_days"] == 730
    for table, day in HORIZON.items():
        assert observed[table]["horizon"] == day.isoformat()
    recorded = dict(conn.execute("select table_name, horizon from ops.retention_horizons"))
    assert {t: recorded[t] for t in HORIZON} == HORIZON
    assert recorded["yesgoddess__events"] == TODAY - timedelta(days=730)


def _assert_marts_kept(conn, before_marts) -> None:
    for relation, (old_rows, new_rows) in before_marts.items():
        now_old, now_new = _split(conn, relation)
        assert now_old == old_rows, f"{relation}: rows of deleted days changed"
        if relation in EXACT:
            assert now_new == new_rows, f"{relation}: rows of kept days changed"


def test_marts_keep_the_rows_of_deleted_days_through_rebuilds(built, retained):
    conn = built
    _, before_marts, _, _ = retained
    for relation in ("marts.ml_response_samples", "marts.fct_paywall_conversion_daily",
                     "marts.fct_onboarding_funnel",
                     "intermediate.int_user_days_unioned"):  # fmt: skip
        old_rows, _ = before_marts[relation]
        assert old_rows, f"{relation} had no rows before its horizon: the test proves nothing"
    _assert_marts_kept(conn, before_marts)  # retention itself touches no mart

    # one partition of a deleted day, then one straddling the app_events horizon
    for window in ({"min_date": "2026-03-15", "max_date": "2026-03-16"},
                   {"min_date": "2026-03-21", "max_date": "2026-03-24"}):  # fmt: skip
        run_dbt("build", "--quiet", "--select", LINEAGE, "--vars", json.dumps(window))
        _assert_marts_kept(conn, before_marts)

    run_dbt("build", "--quiet", "--select", LINEAGE)  # everything, default window
    _assert_marts_kept(conn, before_marts)
    # --full-refresh would rebuild from what raw still holds: the models refuse it
    run_dbt("build", "--quiet", "--select", "fct_onboarding_funnel", "--full-refresh")
    _assert_marts_kept(conn, before_marts)


def test_late_arrival_sensor_ignores_days_before_the_horizon(built, retained):
    conn = built
    instance = DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def("late_arrival_sensor")
    resources = {"warehouse": WarehouseResource()}
    first = sensor.evaluate_tick(build_sensor_context(instance=instance, resources=resources))
    deleted_day, kept_day = "2026-03-15", "2026-03-25"
    for day in (deleted_day, kept_day):  # both partitions were built
        instance.report_runless_asset_event(
            AssetMaterialization(AssetKey(["marts", "ml_response_samples"]), partition=day)
        )
    conn.execute(
        """insert into raw.everreach__app_events (ingest_seq, id, event_name, user_id,
               occurred_at, properties, context, created_at)
           select -n, 'late-' || n, 'paywall_shown', 'late-user', d, '{}', '{}', now()
           from (values (1, '2026-03-15 10:00+00'::timestamptz),
                        (2, '2026-03-25 10:00+00'::timestamptz)) as late (n, d)"""
    )
    tick = sensor.evaluate_tick(
        build_sensor_context(
            instance=instance,
            resources=resources,
            cursor=first.cursor,
            repository_def=defs.get_repository_def(),
        )
    )
    assert [r.partition_key for r in tick.run_requests] == [kept_day]
