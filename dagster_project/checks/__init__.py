"""Asset checks beyond dbt's tests, and the raw assets' freshness policies.

One module per concern: ledger replay (ledger.py), quarantine rate per source
(quarantine.py), Redis campaign counters vs warehouse gifts (campaign_counters.py),
funnel sanity (funnels.py), raw freshness (freshness.py: policies the daemon
evaluates, so there is no freshness sensor), and the product alerts (alerts.py, with
their thresholds in alert_thresholds.py). Each check's result carries the numbers
that explain it as metadata; docs/ARCHITECTURE.md ("Asset checks") lists them.
"""

from dagster_project.checks.alert_thresholds import AlertThresholds
from dagster_project.checks.alerts import ALERT_CHECKS
from dagster_project.checks.campaign_counters import campaign_counters_match_warehouse
from dagster_project.checks.freshness import (
    NIGHTLY,
    RAW_FRESHNESS_HOURS_ENV,
    raw_freshness_hours,
    raw_freshness_policy,
)
from dagster_project.checks.funnels import FUNNEL_CHECKS
from dagster_project.checks.ledger import ledger_checks
from dagster_project.checks.quarantine import QUARANTINE_CHECKS, gift_quarantine_rate

ASSET_CHECKS = [
    ledger_checks,
    *QUARANTINE_CHECKS,
    campaign_counters_match_warehouse,
    *FUNNEL_CHECKS,
    *ALERT_CHECKS,
]

__all__ = [
    "ASSET_CHECKS",
    "AlertThresholds",
    "NIGHTLY",
    "RAW_FRESHNESS_HOURS_ENV",
    "campaign_counters_match_warehouse",
    "gift_quarantine_rate",
    "ledger_checks",
    "raw_freshness_hours",
    "raw_freshness_policy",
]
