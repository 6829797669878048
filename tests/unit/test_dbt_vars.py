"""Partition window → dbt vars (a pure function; DESIGN.md §3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dagster_project.dbt_vars import FULL_WINDOW, window_vars
from dagster_project.partitions import daily_partitions


def test_one_day_is_a_half_open_window():
    start = datetime(2026, 11, 20, tzinfo=UTC)
    assert window_vars(start, start + timedelta(days=1)) == {
        "min_date": "2026-11-20",
        "max_date": "2026-11-21",
    }


def test_a_backfill_range_is_one_window():
    window = daily_partitions.time_window_for_partition_key("2026-11-01")
    last = daily_partitions.time_window_for_partition_key("2026-11-07")
    assert window_vars(window.start, last.end) == {
        "min_date": "2026-11-01",
        "max_date": "2026-11-08",
    }


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2026, 11, 2), date(2026, 11, 2), "must end after it starts"),
        (datetime(2026, 11, 2, tzinfo=timezone(timedelta(hours=2))), date(2026, 11, 3), "UTC"),
        (datetime(2026, 11, 2, 6, tzinfo=UTC), date(2026, 11, 3), "whole days"),
    ],
)
def test_windows_that_are_not_whole_utc_days_are_refused(start, end, message):
    with pytest.raises(ValueError, match=message):
        window_vars(start, end)


def test_the_full_window_is_half_open_too():
    assert FULL_WINDOW["min_date"] < FULL_WINDOW["max_date"]
