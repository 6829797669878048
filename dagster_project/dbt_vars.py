"""Partition window → dbt vars: the one place a Dagster time window becomes SQL bounds.

Incremental models filter `[min_date, max_date)` in their first CTE (half-open, so a
backfill of several days is one window and adjacent windows never overlap).
"""

from __future__ import annotations

from datetime import date, datetime

# With no partition (a plain `dbt build`), the window is everything.
FULL_WINDOW = {"min_date": "1970-01-01", "max_date": "9999-12-31"}


def window_vars(start: datetime | date, end: datetime | date) -> dict[str, str]:
    """A half-open window of whole UTC days → {"min_date", "max_date"} for `dbt --vars`."""
    start_day, end_day = _utc_day(start), _utc_day(end)
    if end_day <= start_day:
        raise ValueError(
            f"a partition window must end after it starts: got [{start_day}, {end_day})"
        )
    return {"min_date": start_day.isoformat(), "max_date": end_day.isoformat()}


def _utc_day(value: datetime | date) -> date:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset():
            raise ValueError(
                f"partition bounds must be UTC midnights, got {value.isoformat()} "
                "(the daily partitions are UTC days)"
            )
        if value.time() != datetime.min.time():
            raise ValueError(f"partition bounds must be whole days, got {value.isoformat()}")
        return value.date()
    return value
