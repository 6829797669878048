"""The alert checks' arithmetic and their thresholds' configuration."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from dagster_project.checks.alert_thresholds import AlertThresholdError, AlertThresholds
from dagster_project.checks.alerts import (
    DAILY_SERIES,
    anomaly_result,
    robust_band,
    week_over_week,
)


def test_the_band_is_median_plus_minus_k_mads_with_a_floor():
    history = [0.0, 0.1, -0.1, 0.2, -0.2, 5.0]  # one outlier: median and MAD barely move
    median, mad, low, high = robust_band(history, k=3, min_half_width=0.01)
    assert median == pytest.approx(0.05)
    assert mad == pytest.approx(0.15)
    assert (low, high) == pytest.approx((0.05 - 0.45, 0.05 + 0.45))
    assert robust_band([1.0] * 5, k=3, min_half_width=0.1)[2:] == pytest.approx((0.9, 1.1))


def test_week_over_week_is_symmetric_and_finite_at_zero():
    assert week_over_week(199, 99) == pytest.approx(-week_over_week(99, 199))
    assert math.isfinite(week_over_week(0, 500)) and week_over_week(0, 500) < -6


def _rows(values: list[float]) -> list[tuple]:
    start = date(2026, 3, 1)
    return [(start + timedelta(days=i), v, 1000.0) for i, v in enumerate(values)]


@pytest.mark.parametrize("last, fires", [(1010.0, False), (300.0, True), (3000.0, True)])
def test_the_newest_day_is_judged_against_the_days_before(last, fires):
    steady = [1000.0 + (25 if i % 2 else -25) for i in range(28)]
    result = anomaly_result(_rows([*steady, last]), DAILY_SERIES[0], AlertThresholds())
    assert result.passed is not fires
    assert result.metadata["history_days"].value == 28


def test_too_little_history_is_not_judged():
    result = anomaly_result(_rows([1000.0] * 5 + [1.0]), DAILY_SERIES[0], AlertThresholds())
    assert result.passed and "needed to judge" in result.description


def test_thresholds_come_from_the_environment():
    limits = AlertThresholds.from_env({"ALERT_ANOMALY_K": "3.5", "ALERT_TRIAL_WINDOW_DAYS": "7"})
    assert (limits.anomaly_k, limits.trial_window_days, limits.dislike_rate_max_pct) == (
        3.5,
        7,
        20.0,
    )


@pytest.mark.parametrize(
    "name, value, rule",
    [
        ("ALERT_ANOMALY_K", "five", "must be a number"),
        ("ALERT_TRIAL_WINDOW_DAYS", "2.5", "must be a whole number"),
        ("ALERT_DISLIKE_RATE_MAX_PCT", "120", "at most 100"),
        ("ALERT_TRIAL_CONVERSION_MIN_PCT", "-1", "at least 0"),
        ("ALERT_TRIAL_WINDOW_DAYS", "0", "at least 1 day"),
    ],
)
def test_a_bad_threshold_names_the_value_and_the_rule(name, value, rule):
    with pytest.raises(AlertThresholdError, match=rule) as raised:
        AlertThresholds.from_env({name: value})
    assert f"{name}={value!r}" in str(raised.value)
