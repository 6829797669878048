"""Asset checks beyond dbt's tests and the raw freshness policies, run through Dagster
against the real PostgreSQL, Redis and dbt: each passes on consistent data with the
numbers that explain it, and catches a tampered warehouse with the offending rows."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import TimeWindowFreshnessPolicyEvaluator
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from psycopg import sql

from dagster_project.assets.ingest_redis import gift_analytics
from dagster_project.checks import (
    ASSET_CHECKS,
    NIGHTLY,
    campaign_counters_match_warehouse,
    gift_quarantine_rate,
    raw_freshness_policy,
)
from dagster_project.checks.funnels import FUNNEL_CHECKS
from dagster_project.checks.quarantine import QUARANTINE_CHECKS
from dagster_project.definitions import defs
from dagster_project.resources import RedisResource, WarehouseResource
from dagster_project.simulate.copy_rows import copy_rows
from dagster_project.simulate.cryptogift import TASK_COLUMNS, create_tables
from tests import gift_fixture
from tests.conftest import land_empty_sources, run_dbt
from tests.dao_fixture import app_url, drop_app_schema, extract_load_dao

RESOURCES = {"warehouse": WarehouseResource(), "redis": RedisResource()}
BAD_STATUS = "status 'lost' is not one of available, claimed, in_progress, completed"


def _check(asset: list[str], name: str, checks=ASSET_CHECKS) -> dg.AssetChecksDefinition:
    key = dg.AssetCheckKey(dg.AssetKey(asset), name)
    return next(c for c in checks if key in c.check_keys)


def run_check(check: dg.AssetChecksDefinition, **materialize_kwargs):
    """One check alone, as `dagster asset check` would run it: its asset is not rebuilt."""
    (key,) = check.check_keys
    result = dg.materialize(
        [dg.AssetSpec(key.asset_key), check],
        selection=dg.AssetSelection.checks(check),
        resources=RESOURCES,
        **materialize_kwargs,
    )
    assert result.success
    return evaluations(result)[key.name]


def evaluations(result) -> dict:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def meta(evaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


# --- Redis counters and gift quarantine ------------------------------------------------


def _totals(counts: dict[tuple[str, str], int], counter: str) -> int:
    return sum(n for (_, c), n in counts.items() if c == counter)


def test_counters_reconcile_then_the_deleted_gift_is_the_difference(
    conn, redis_client, gift_prefix
):
    counter_prefix = f"{gift_prefix}campaign:"
    gift_fixture.load(redis_client, gift_prefix, counter_prefix=counter_prefix)
    # the counters the fixture's HINCRBYs left, read back independently of the check
    written = {
        (key.decode().removeprefix(counter_prefix).removesuffix(":counters"), c.decode()): int(n)
        for key in redis_client.scan_iter(match=f"{counter_prefix}*")
        for c, n in redis_client.hgetall(key).items()
    }
    assert written == gift_fixture.counters()

    result = dg.materialize(
        [gift_analytics, gift_quarantine_rate, campaign_counters_match_warehouse],
        resources=RESOURCES,
    )
    assert result.success
    checks = evaluations(result)

    counters = meta(checks["campaign_counters_match_warehouse"])
    assert checks["campaign_counters_match_warehouse"].passed
    assert counters["campaigns_compared"] == 2  # camp_a, camp_b
    for counter in ("created", "viewed", "claimed"):
        assert counters[f"redis_{counter}"] == _totals(written, counter)
        assert counters[f"warehouse_{counter}"] == _totals(written, counter)
        assert counters[f"difference_{counter}"] == 0
    assert (counters["gifts_pending_sync"], counters["first_differences"]) == (0, [])

    # 2 of 13 gifts rejected (g11, g12): 15.4 %, above the 1 % line → WARN with the reasons
    quarantine = checks["gift_quarantine_rate"]
    q = meta(quarantine)
    assert not quarantine.passed and quarantine.severity == dg.AssetCheckSeverity.WARN
    assert (q["arrived"], q["quarantined"]) == (13, len(gift_fixture.QUARANTINED))
    assert q["quarantine_rate_pct"] == round(2 / 13 * 100, 3)
    assert q["threshold_pct"] == 1.0
    assert sum(q["top_reasons"].values()) == 2
    assert any("'yesterday'" in reason for reason in q["top_reasons"])

    # a gift lost between Redis and the warehouse: camp_a's three counters are one ahead
    a = {c: n for (campaign, c), n in written.items() if campaign == "camp_a"}
    conn.execute("delete from raw.gift_analytics where gift_id = 'g01'")
    conn.commit()
    lost = run_check(campaign_counters_match_warehouse)
    m = meta(lost)
    assert not lost.passed and lost.severity == dg.AssetCheckSeverity.ERROR
    assert [m[f"difference_{c}"] for c in ("created", "viewed", "claimed")] == [1, 1, 1]
    assert (m["campaigns_differing"], m["counters_differing"], m["abs_difference"]) == (1, 3, 3)
    assert m["first_differences"][0] == {
        "campaign": "camp_a",
        "counter": "created",
        "redis": a["created"],
        "warehouse": a["created"] - 1,
        "difference": 1,
    }

    # while gifts wait in the dirty set the next sync may close the gap: only a warning
    redis_client.sadd(f"{gift_prefix}dirty", "g01")
    pending = run_check(campaign_counters_match_warehouse)
    assert not pending.passed and pending.severity == dg.AssetCheckSeverity.WARN
    assert meta(pending)["gifts_pending_sync"] == 1


# --- quarantine rate of a dbt-quarantined source -----------------------------------------

TASKS_SCHEMA = "test_checks_tasks"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _tasks(first_id: int, good: int, bad: int, at: datetime) -> list[tuple]:
    rows = []
    for i in range(first_id, first_id + good + bad):
        status = "lost" if i >= first_id + good else "available"
        rows.append((i, "dev", "bug_fix", f"task {i}", status, 10, None, at, None, None, at))
    return rows


def _land_tasks(conn, rows: list[tuple]) -> None:
    with psycopg.connect(app_url(), autocommit=True) as app:
        create_tables(app, schema=TASKS_SCHEMA)
        copy_rows(app, sql.Identifier(TASKS_SCHEMA, "tasks"), TASK_COLUMNS, rows)
    extract_load_dao(conn, TASKS_SCHEMA)
    conn.commit()
    run_dbt("build", "--quiet", "--select", "cryptogift__tasks")


def test_quarantine_rate_is_over_the_latest_load(conn):
    check = _check(["quarantine", "cryptogift__tasks"], "quarantine_rate", QUARANTINE_CHECKS)
    drop_app_schema(TASKS_SCHEMA)
    try:
        # first load: 1 bad task of 151 → 0.66 %, under the line
        _land_tasks(conn, _tasks(1, good=150, bad=1, at=T0))
        first = run_check(check)
        m = meta(first)
        assert first.passed, first.description
        assert (m["arrived"], m["quarantined"]) == (151, 1)
        assert m["quarantine_rate_pct"] == round(1 / 151 * 100, 3)
        assert m["top_reasons"] == {BAD_STATUS: 1}

        # second load: 20 new tasks, 3 bad → 15 % of that load; the first load's rows are
        # re-read in the overlap but unchanged, so they are not part of it
        time.sleep(0.01)
        _land_tasks(conn, _tasks(1000, good=17, bad=3, at=T0 + timedelta(hours=2)))
        second = run_check(check)
        m = meta(second)
        assert not second.passed and second.severity == dg.AssetCheckSeverity.WARN
        assert (m["arrived"], m["quarantined"]) == (20, 3)
        assert m["quarantine_rate"] == 0.15 and m["threshold_pct"] == 1.0
        assert (m["landed_all_loads"], m["quarantined_all_loads"]) == (171, 4)
        assert m["top_reasons"] == {BAD_STATUS: 3}
        assert "3 of 20" in second.description
    finally:
        drop_app_schema(TASKS_SCHEMA)


# --- funnel sanity -----------------------------------------------------------------------


def test_gift_funnel_offending_days_are_listed(conn, redis_client, gift_prefix, dbt_build):
    gift_fixture.load(redis_client, gift_prefix)
    assert dg.materialize([gift_analytics], resources=RESOURCES).success
    dbt_build()
    check = _check(["marts", "fct_gift_funnel_daily"], "funnel_steps_monotonic", FUNNEL_CHECKS)

    clean = run_check(check)
    assert clean.passed, clean.description
    assert meta(clean)["rows_checked"] == len(gift_fixture.FUNNEL)

    day0, day1 = gift_fixture.d(0), gift_fixture.d(1)
    conn.execute(
        "update marts.fct_gift_funnel_daily set total_claimed = total_preclaim + 1 "
        "where date = %s and campaign_id = 'camp_a'",
        [day0],
    )
    conn.execute(
        "update marts.fct_gift_funnel_daily set conversion_rate = 101 "
        "where date = %s and campaign_id is null",
        [day1],
    )
    conn.commit()
    broken = run_check(check)
    m = meta(broken)
    assert not broken.passed and broken.severity == dg.AssetCheckSeverity.ERROR
    assert (m["rows_checked"], m["rows_offending"]) == (len(gift_fixture.FUNNEL), 2)
    assert m["offending_days"] == [day0.isoformat(), day1.isoformat()]
    first, second = m["offending_rows"]
    assert (first["campaign_id"], first["broken"]) == (
        "camp_a",
        ["total_claimed <= total_preclaim"],
    )
    assert (first["total_preclaim"], first["total_claimed"]) == (2, 3)
    assert second["broken"] == ["conversion_rate <= 100"]


def test_everreach_funnels_check_their_steps(conn):
    land_empty_sources(conn, app_url(), systems=("everreach",))
    conn.commit()
    run_dbt("build", "--quiet", "--select", "+fct_onboarding_funnel", "+fct_trial_conversion")
    onboarding = _check(["marts", "fct_onboarding_funnel"], "funnel_steps_monotonic")
    trials = _check(["marts", "fct_trial_conversion"], "funnel_steps_monotonic")
    assert run_check(onboarding).passed and run_check(trials).passed  # empty: nothing breaks

    conn.execute("""
        insert into marts.fct_onboarding_funnel (cohort_date, signup_started_users,
            signup_completed_users, onboarding_completed_users, aha_reached_users,
            trial_started_users, purchase_succeeded_users, signup_completed_rate,
            onboarding_completed_rate, aha_reached_rate, trial_started_rate,
            purchase_succeeded_rate, window_days)
        values ('2026-03-02', 10, 8, 6, 4, 5, 1, 80, 60, 40, 50, 10, 14),
               ('2026-03-03', 10, 8, 6, 4, 3, 1, 80, 60, 40, 30, 10, 14)""")
    conn.execute("""
        insert into marts.fct_trial_conversion (cohort_date, trials_started, trials_converted,
            trials_expired, trials_open, conversion_rate)
        values ('2026-03-04', 5, 6, 0, 0, 120)""")
    conn.commit()
    m = meta(run_check(onboarding))
    assert (m["rows_checked"], m["rows_offending"], m["offending_days"]) == (2, 1, ["2026-03-02"])
    assert m["offending_rows"][0]["broken"] == ["trial_started_users <= aha_reached_users"]
    m = meta(run_check(trials))
    assert m["offending_days"] == ["2026-03-04"]
    assert m["offending_rows"][0]["broken"] == [
        "trials_converted <= trials_started",
        "conversion_rate <= 100",
    ]


# --- freshness ---------------------------------------------------------------------------


def _freshness(instance, key: list[str], policy) -> FreshnessState:
    """The state Dagster's freshness daemon would give the asset now (its own evaluator)."""
    node = dg.Definitions(assets=[dg.AssetSpec(key, freshness_policy=policy)])
    node = node.resolve_asset_graph().get(dg.AssetKey(key))
    evaluate = TimeWindowFreshnessPolicyEvaluator().evaluate_freshness
    return asyncio.run(evaluate(context=LoadingContextForTest(instance), node=node))


def test_raw_assets_carry_the_freshness_policy():
    graph = defs.resolve_asset_graph()
    gift = graph.get(dg.AssetKey(["raw", "gift_analytics"])).freshness_policy
    ledger = graph.get(dg.AssetKey(["raw", "wallet__wallet_ledger"])).freshness_policy
    assert gift.warn_window.to_timedelta() == timedelta(hours=6)
    assert ledger.warn_window.to_timedelta() == NIGHTLY + timedelta(hours=6)


def test_a_gift_sync_seven_hours_old_warns(conn, redis_client, gift_prefix, monkeypatch):
    instance = dg.DagsterInstance.ephemeral()
    gift_fixture.load(redis_client, gift_prefix, {"g01": gift_fixture.GIFTS["g01"]})
    key = ["raw", "gift_analytics"]
    now = time.time()
    with freeze_time(now - 7 * 3600):
        assert dg.materialize([gift_analytics], instance=instance, resources=RESOURCES).success
    policy = defs.resolve_asset_graph().get(dg.AssetKey(key)).freshness_policy
    assert _freshness(instance, key, policy) is FreshnessState.WARN
    # a threshold above the age passes
    monkeypatch.setenv("RAW_FRESHNESS_HOURS", "8")
    assert _freshness(instance, key, raw_freshness_policy()) is FreshnessState.PASS
    # a day past the warning fails
    monkeypatch.setenv("RAW_FRESHNESS_HOURS", "0.5")
    with freeze_time(now + 24 * 3600):
        assert _freshness(instance, key, raw_freshness_policy()) is FreshnessState.FAIL


def test_a_nightly_source_warns_only_past_its_night_plus_the_threshold():
    instance = dg.DagsterInstance.ephemeral()
    key = ["raw", "wallet__users"]
    now = time.time()
    with freeze_time(now - 7 * 3600):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    policy = raw_freshness_policy(NIGHTLY)
    assert _freshness(instance, key, policy) is FreshnessState.PASS
    with freeze_time(now + 24 * 3600):  # 31 h without a load: the night was missed
        assert _freshness(instance, key, policy) is FreshnessState.WARN
    assert _freshness(instance, ["raw", "mashups__mashups"], policy) is FreshnessState.UNKNOWN
