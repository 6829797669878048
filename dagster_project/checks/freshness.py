"""Freshness policies of the raw assets: a stalled source turns WARN, then FAIL, in the UI.

Dagster 1.13's `FreshnessPolicy.time_window` is evaluated by the daemon's freshness loop
(on by default; `dagster dev` runs it), so no sensor or extra check is needed: the asset
graph and the asset's page show PASS / WARN / FAIL from its last materialization.

`RAW_FRESHNESS_HOURS` (default 6) is how long a source may land nothing beyond its
expected cadence: the gift sync runs whenever gifts change (gift_dirty_sensor, every
5 minutes), so it warns after 6 hours; the app databases are loaded nightly
(apps_nightly), so they warn 6 hours after a missed night (30 hours). FAIL follows a day
after WARN.
"""

import os
from datetime import timedelta

from dagster import FreshnessPolicy

RAW_FRESHNESS_HOURS_ENV = "RAW_FRESHNESS_HOURS"
DEFAULT_RAW_FRESHNESS_HOURS = 6.0
NIGHTLY = timedelta(hours=24)  # apps_nightly loads every app database once a day
FAIL_AFTER_WARN = timedelta(hours=24)


def raw_freshness_hours() -> float:
    """RAW_FRESHNESS_HOURS as a number of hours (≥ 1/60: Dagster's smallest window)."""
    text = os.environ.get(RAW_FRESHNESS_HOURS_ENV, "").strip()
    if not text:
        return DEFAULT_RAW_FRESHNESS_HOURS
    try:
        hours = float(text)
    except ValueError:
        hours = float("nan")
    if not hours >= 1 / 60:  # also rejects nan
        raise ValueError(
            f"{RAW_FRESHNESS_HOURS_ENV}={text!r}: must be a number of hours of at least "
            f"0.0167 (one minute), e.g. 6"
        )
    return hours


def raw_freshness_policy(cadence: timedelta = timedelta(0)) -> FreshnessPolicy:
    """WARN when nothing was materialized for `cadence` + RAW_FRESHNESS_HOURS; FAIL a day
    later. `cadence` is how often the asset is expected to run at all."""
    warn = cadence + timedelta(hours=raw_freshness_hours())
    return FreshnessPolicy.time_window(fail_window=warn + FAIL_AFTER_WARN, warn_window=warn)
