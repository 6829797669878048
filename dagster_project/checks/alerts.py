"""Product alerts as asset checks: the figures the apps asked to be warned about.

EverReach's plan lists three PostHog alerts (trial conversion < 10 %, paywall shown but
no purchase in 24 h, AI dislike rate > 20 %); YesGoddess's asks for anomaly detection on
unusual traffic, which every app's main daily series gets here. All are WARN: the data is
not wrong, a person should look. Thresholds come from the `alert_thresholds` resource
(alert_thresholds.py). Each judges the newest complete UTC day in its mart (days before
today), so a partition built mid-day does not alarm on a half day.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, asset_check
from psycopg import sql

from dagster_project.checks.alert_thresholds import AlertThresholds
from dagster_project.resources import WarehouseResource

TODAY_UTC = "(now() at time zone 'utc')::date"


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * float(part) / float(whole), 2) if whole else None


def _result(fired: bool, description: str, **metadata) -> AssetCheckResult:
    return AssetCheckResult(
        passed=not fired,
        severity=AssetCheckSeverity.WARN,
        description=description,
        metadata={
            k: (str(v) if v is not None and not isinstance(v, int | float | list | dict) else v)
            for k, v in metadata.items()
            if v is not None
        },
    )


# --- EverReach: trial conversion -------------------------------------------------------

TRIALS_SQL = f"""
with newest as (
    select max(cohort_date) as day from marts.fct_trial_conversion where cohort_date < {TODAY_UTC}
)
select
    min(t.cohort_date), max(t.cohort_date),
    coalesce(sum(t.trials_started), 0)::int, coalesce(sum(t.trials_converted), 0)::int,
    coalesce(sum(t.trials_expired), 0)::int, coalesce(sum(t.trials_open), 0)::int
from marts.fct_trial_conversion as t, newest
where t.cohort_date > newest.day - %(days)s and t.cohort_date <= newest.day
"""


def trial_conversion_result(conn, limits: AlertThresholds) -> AssetCheckResult:
    first, last, started, converted, expired, still_open = conn.execute(
        TRIALS_SQL, {"days": limits.trial_window_days}
    ).fetchone()
    # a trial bought after it ran out is both converted and expired (the mart counts it
    # in both): the resolved trials are the ones no longer open, each once
    resolved = started - still_open
    rate = _pct(converted, resolved)
    figures = {
        "cohorts_from": first,
        "cohorts_to": last,
        "trials_started": started,
        "trials_converted": converted,
        "trials_expired": expired,
        "trials_open": still_open,
        "trials_resolved": resolved,
        "conversion_rate_pct": rate,
        "threshold_pct": limits.trial_conversion_min_pct,
        "min_resolved_trials": limits.trial_min_resolved,
    }
    if resolved < limits.trial_min_resolved:
        return _result(
            False,
            f"{resolved} resolved trials in the cohorts of the newest "
            f"{limits.trial_window_days} days: too few to judge "
            f"(at least {limits.trial_min_resolved})",
            **figures,
        )
    fired = rate < limits.trial_conversion_min_pct
    return _result(
        fired,
        f"trial conversion {rate}% ({converted} of {resolved} resolved trials, cohorts "
        f"{first}…{last}) is {'below' if fired else 'at or above'} "
        f"{limits.trial_conversion_min_pct}%",
        **figures,
    )


# --- EverReach: paywall shown, nothing bought ------------------------------------------

PAYWALL_SQL = f"""
with newest as (
    select max(date) as day from marts.fct_paywall_conversion_daily where date < {TODAY_UTC}
)
select p.date, p.placement, p.paywall_impressions, p.converted_impressions
from marts.fct_paywall_conversion_daily as p
inner join newest on p.date = newest.day
order by p.placement
"""


def paywall_result(conn, limits: AlertThresholds) -> AssetCheckResult:
    rows = conn.execute(PAYWALL_SQL).fetchall()
    day = rows[0][0] if rows else None
    shown = sum(r[2] for r in rows)
    bought = sum(r[3] for r in rows)
    figures = {
        "day": day,
        "paywall_impressions": shown,
        "converted_impressions": bought,
        "by_placement": {r[1]: {"shown": r[2], "converted": r[3]} for r in rows},
        "min_impressions": limits.paywall_min_impressions,
    }
    if shown < limits.paywall_min_impressions:
        return _result(
            False,
            f"{shown} paywall views on {day}: too few to judge (at least "
            f"{limits.paywall_min_impressions})",
            **figures,
        )
    fired = bought == 0
    return _result(
        fired,
        f"the paywall was shown {shown:,} times on {day} and "
        + (
            "no view was followed by a purchase within 24 h"
            if fired
            else f"{bought:,} views were followed by a purchase within 24 h"
        ),
        **figures,
    )


# --- EverReach: AI dislike rate ---------------------------------------------------------

DISLIKES_SQL = f"""
with newest as (
    select max(date) as day from marts.fct_ai_response_quality_daily where date < {TODAY_UTC}
)
select q.date, q.model, q.responses, q.disliked_responses
from marts.fct_ai_response_quality_daily as q
inner join newest on q.date = newest.day
order by q.model
"""


def dislike_rate_result(conn, limits: AlertThresholds) -> AssetCheckResult:
    rows = conn.execute(DISLIKES_SQL).fetchall()
    day = rows[0][0] if rows else None
    responses = sum(r[2] for r in rows)
    disliked = sum(r[3] for r in rows)
    rate = _pct(disliked, responses)
    figures = {
        "day": day,
        "responses": responses,
        "disliked_responses": disliked,
        "dislike_rate_pct": rate,
        "threshold_pct": limits.dislike_rate_max_pct,
        "by_model": {r[1]: {"responses": r[2], "dislike_rate_pct": _pct(r[3], r[2])} for r in rows},
        "min_responses": limits.dislike_min_responses,
    }
    if responses < limits.dislike_min_responses:
        return _result(
            False,
            f"{responses} AI responses on {day}: too few to judge (at "
            f"least {limits.dislike_min_responses})",
            **figures,
        )
    fired = rate > limits.dislike_rate_max_pct
    return _result(
        fired,
        f"{rate}% of {responses:,} AI responses on {day} were disliked "
        f"({'above' if fired else 'within'} {limits.dislike_rate_max_pct}%)",
        **figures,
    )


# --- every app: the main daily series against its own recent past ----------------------


@dataclass(frozen=True)
class DailySeries:
    app: str
    table: str  # marts.<table>, with a `date` column
    value: str  # the column summed per day
    label: str


DAILY_SERIES = (
    DailySeries("CryptoGift", "fct_gift_activity_daily", "gifts_viewed", "gifts viewed"),
    DailySeries("YesGoddess", "fct_daily_metrics", "views", "views"),
    DailySeries("EverReach", "fct_ai_response_quality_daily", "responses", "AI responses"),
    DailySeries("Mashups", "fct_mashup_daily_stats", "plays", "plays"),
    DailySeries("Wallet", "fct_token_daily", "entries", "ledger entries"),
)


def series_query(series: DailySeries) -> sql.Composed:
    """Each day of the window with the value of the same weekday a week before; days
    without a row count 0, from the mart's first day on."""
    return sql.SQL("""
        with daily as (
            select date as day, sum({value})::float8 as value
            from {table}
            where date < {today}
            group by date
        ),
        span as (select min(day) as first, max(day) as last from daily),
        days as (
            select generate_series(
                greatest(span.first, span.last - (%(days)s + 7)), span.last, interval '1 day'
            )::date as day
            from span
        ),
        filled as (
            select days.day, coalesce(daily.value, 0) as value
            from days left join daily on days.day = daily.day
        )
        select this.day, this.value, before.value
        from filled as this
        inner join filled as before on before.day = this.day - 7
        order by this.day
    """).format(
        value=sql.Identifier(series.value),
        table=sql.Identifier("marts", series.table),
        today=sql.SQL(TODAY_UTC),
    )


def week_over_week(value: float, week_before: float) -> float:
    """The log change against the same weekday a week before: the apps' weekly rhythm
    and steady growth cancel out, and a doubling weighs as much as a halving. +1 keeps a
    day of 0 finite."""
    return math.log((value + 1) / (week_before + 1))


def robust_band(history: list[float], k: float, min_half_width: float) -> tuple[float, ...]:
    """(median, MAD, low, high): median ± k·MAD of the history, at least ± min_half_width.
    Median and MAD ignore the odd outlier in the history that a mean and σ would chase."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    half = max(k * mad, min_half_width)
    return median, mad, median - half, median + half


def _as_pct(log_change: float) -> float:
    return round(100 * (math.exp(log_change) - 1), 1)


def anomaly_result(rows: list[tuple], series: DailySeries, limits: AlertThresholds):
    """rows: (day, value, week_before), oldest first; the last is the day judged."""
    if not rows:
        return _result(False, f"no {series.label} a week apart in marts.{series.table} yet")
    day, value, before = rows[-1]
    history = [week_over_week(v, b) for _, v, b in rows[:-1]][-limits.anomaly_window_days :]
    change = week_over_week(value, before)
    figures = {
        "app": series.app,
        "series": series.label,
        "day": day,
        "value": value,
        "week_before": before,
        "change_pct": _as_pct(change),
        "history_days": len(history),
        "k": limits.anomaly_k,
    }
    if len(history) < limits.anomaly_min_history:
        return _result(
            False,
            f"{series.label} on {day}: {len(history)} days of history, "
            f"{limits.anomaly_min_history} needed to judge",
            **figures,
        )
    median, mad, low, high = robust_band(
        history, limits.anomaly_k, math.log(1 + limits.anomaly_min_band_pct / 100)
    )
    fired = not low <= change <= high
    expected = (round((before + 1) * math.exp(low) - 1), round((before + 1) * math.exp(high) - 1))
    return _result(
        fired,
        f"{series.label} on {day}: {value:,.0f}, {_as_pct(change):+}% against a week before "
        f"({before:,.0f}); the last {len(history)} days' changes: median {_as_pct(median):+}%, "
        f"band {_as_pct(low):+}%…{_as_pct(high):+}% (median ± {limits.anomaly_k}·MAD), "
        f"so {expected[0]:,}…{expected[1]:,} was expected",
        **figures,
        median_change_pct=_as_pct(median),
        mad=round(mad, 4),
        band_low_pct=_as_pct(low),
        band_high_pct=_as_pct(high),
        expected_low=expected[0],
        expected_high=expected[1],
    )


# --- the checks -------------------------------------------------------------------------


def _everreach_check(table: str, name: str, description: str, evaluate):
    @asset_check(name=name, asset=["marts", table], description=description)
    def _check(warehouse: WarehouseResource, alert_thresholds: AlertThresholds):
        with warehouse.connect() as conn:
            return evaluate(conn, alert_thresholds)

    return _check


def _anomaly_check(series: DailySeries) -> AssetChecksDefinition:
    @asset_check(
        name="alert_daily_anomaly",
        asset=["marts", series.table],
        description=(
            f"{series.app}'s {series.label} per day: WARN when the newest complete day's "
            "change against the same weekday a week before falls outside median ± k·MAD "
            "of the same changes over the days before it (alert_thresholds: anomaly_k, "
            "anomaly_window_days, anomaly_min_history, anomaly_min_band_pct)."
        ),
    )
    def _check(warehouse: WarehouseResource, alert_thresholds: AlertThresholds):
        with warehouse.connect() as conn:
            rows = conn.execute(
                series_query(series), {"days": alert_thresholds.anomaly_window_days}
            ).fetchall()
        return anomaly_result(rows, series, alert_thresholds)

    return _check


ALERT_CHECKS = [
    _everreach_check(
        "fct_trial_conversion",
        "alert_trial_conversion",
        "EverReach: WARN when trials converted / resolved trials (converted or expired, "
        "each once) over the trial cohorts of the newest trial_window_days is below "
        "trial_conversion_min_pct (default 10 %); open trials wait.",
        trial_conversion_result,
    ),
    _everreach_check(
        "fct_paywall_conversion_daily",
        "alert_paywall_no_purchase",
        "EverReach: WARN when on the newest complete day the paywall was shown at least "
        "paywall_min_impressions times and no view was followed by a purchase within 24 h.",
        paywall_result,
    ),
    _everreach_check(
        "fct_ai_response_quality_daily",
        "alert_ai_dislike_rate",
        "EverReach: WARN when more than dislike_rate_max_pct (default 20 %) of the newest "
        "complete day's AI responses were disliked (at least dislike_min_responses).",
        dislike_rate_result,
    ),
    *(_anomaly_check(series) for series in DAILY_SERIES),
]
