"""The alert checks through Dagster on the real PostgreSQL: each fires on mart rows built
to cross its threshold, stays quiet just inside it, and follows its configured threshold.
(The rows are written into the marts' own tables and columns; test_alert_checks_from_events
drives EverReach's three alerts from the app's raw events through dbt instead. `make
demo`'s 30 days keep every alert quiet: see docs/OPERATIONS.md.)"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import pytest

from dagster_project.checks.alert_thresholds import AlertThresholds
from dagster_project.checks.alerts import ALERT_CHECKS
from dagster_project.resources import WarehouseResource

DAY = date.today() - timedelta(days=1)  # the newest complete day


def _run(asset: str, name: str, **limits) -> dg.AssetCheckEvaluation:
    key = dg.AssetCheckKey(dg.AssetKey(["marts", asset]), name)
    check = next(c for c in ALERT_CHECKS if key in c.check_keys)
    result = dg.materialize(
        [dg.AssetSpec(key.asset_key), check],
        selection=dg.AssetSelection.checks(check),
        resources={"warehouse": WarehouseResource(), "alert_thresholds": AlertThresholds(**limits)},
    )
    assert result.success
    (evaluation,) = [
        e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    return evaluation


def _table(conn, ddl: str, rows: list[tuple]) -> None:
    conn.execute("create schema if not exists marts")
    conn.execute(ddl)
    name = ddl.split()[2]
    with conn.cursor().copy(f"copy {name} from stdin") as copy:
        for row in rows:
            copy.write_row(row)
    conn.commit()


@pytest.mark.parametrize("converted, fires", [(9, True), (10, False)])
def test_trial_conversion_below_ten_percent(conn, converted, fires):
    # 100 resolved trials over two cohorts; 40 still open do not count
    _table(
        conn,
        "create table marts.fct_trial_conversion (cohort_date date, trials_started "
        "int, trials_converted int, trials_expired int, trials_open int)",
        [(DAY - timedelta(days=3), 70, converted, 40 - converted, 30), (DAY, 70, 0, 60, 10)],
    )
    evaluation = _run("fct_trial_conversion", "alert_trial_conversion")
    assert evaluation.passed is not fires
    assert evaluation.metadata["conversion_rate_pct"].value == float(converted)
    assert evaluation.metadata["trials_open"].value == 40
    assert evaluation.metadata["trials_resolved"].value == 100
    # the threshold is configuration: at 5 % the same data is quiet
    assert _run(
        "fct_trial_conversion", "alert_trial_conversion", trial_conversion_min_pct=5.0
    ).passed


def test_paywall_shown_with_no_purchase_in_24_hours(conn):
    _table(
        conn,
        "create table marts.fct_paywall_conversion_daily (date date, placement text, "
        "paywall_impressions int, converted_impressions int)",
        [
            (DAY - timedelta(days=1), "home", 40, 3),
            (DAY, "home", 15, 0),
            (DAY, "settings", 10, 0),
            (DAY + timedelta(days=1), "home", 30, 0),
        ],
    )
    evaluation = _run("fct_paywall_conversion_daily", "alert_paywall_no_purchase")
    assert not evaluation.passed  # today's 30 views are a half day: not judged
    assert (evaluation.metadata["day"].value, evaluation.metadata["paywall_impressions"].value) == (
        str(DAY),
        25,
    )
    assert _run(
        "fct_paywall_conversion_daily", "alert_paywall_no_purchase", paywall_min_impressions=26
    ).passed


@pytest.mark.parametrize("disliked, fires", [(21, True), (20, False)])
def test_ai_dislike_rate_above_twenty_percent(conn, disliked, fires):
    _table(
        conn,
        "create table marts.fct_ai_response_quality_daily (date date, model text, "
        "responses int, disliked_responses int)",
        [
            (DAY - timedelta(days=1), "gpt-4o-mini", 100, 90),
            (DAY, "gpt-4o-mini", 60, disliked - 5),
            (DAY, "gpt-4o", 40, 5),
        ],
    )
    evaluation = _run("fct_ai_response_quality_daily", "alert_ai_dislike_rate")
    assert evaluation.passed is not fires
    assert evaluation.metadata["dislike_rate_pct"].value == float(disliked)


@pytest.mark.parametrize("newest, fires", [(1_020, False), (350, True), (2_600, True)])
def test_a_day_outside_the_robust_band_of_its_weekly_changes(conn, newest, fires):
    # five weeks of a weekly rhythm (quiet weekends) growing 1 % a week, one missing day
    days = [DAY - timedelta(days=n) for n in range(35, 0, -1)]
    rows = [
        (d, round((600 if d.weekday() >= 5 else 1000) * 1.01 ** (i // 7)))
        for i, d in enumerate(days)
        if i != 10
    ]
    level = 600 if DAY.weekday() >= 5 else 1000
    _table(
        conn,
        "create table marts.fct_mashup_daily_stats (date date, mashup_id text, plays int)",
        [(d, "m1", n // 2) for d, n in rows]
        + [(d, "m2", n - n // 2) for d, n in rows]
        + [(DAY, "m1", newest * level // 1000)],
    )
    evaluation = _run("fct_mashup_daily_stats", "alert_daily_anomaly")
    assert evaluation.passed is not fires, evaluation.description
    assert evaluation.metadata["value"].value == newest * level // 1000
    assert evaluation.metadata["history_days"].value == 28
