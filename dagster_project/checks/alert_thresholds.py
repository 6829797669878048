"""The product alerts' thresholds: one resource, defaults from the apps' plans.

EverReach's plan asks for alerts at trial conversion < 10 %, a paywall shown with no
purchase in 24 h and an AI dislike rate > 20 %; YesGoddess's for unusual traffic. Each
field can be set by an environment variable `ALERT_<FIELD>` (read when the definitions
load) or, for one run, in the launchpad's `resources: alert_thresholds: config:`.
"""

from __future__ import annotations

import math
import os

from dagster import ConfigurableResource

ENV_PREFIX = "ALERT_"


class AlertThresholdError(ValueError):
    """An ALERT_* variable that is not a number or breaks its field's rule."""


class AlertThresholds(ConfigurableResource):
    """Thresholds of the alert checks (dagster_project/checks/alerts.py)."""

    trial_conversion_min_pct: float = 10.0  # WARN below: converted / (converted + expired)
    trial_window_days: int = 28  # trial cohorts of the newest N days
    trial_min_resolved: int = 20  # fewer resolved trials than this: too few to judge
    paywall_min_impressions: int = 20  # a day's paywall views needed before 0 buys warns
    dislike_rate_max_pct: float = 20.0  # WARN above: disliked responses / responses
    dislike_min_responses: int = 50  # a day's responses needed to judge
    anomaly_k: float = 5.0  # band = median ± k·MAD (5 ≈ a modified z-score of 3.4)
    anomaly_window_days: int = 28  # the days before the newest that make the band
    anomaly_min_history: int = 14  # changes needed in the window before judging
    anomaly_min_band_pct: float = 10.0  # the band is never narrower than ±this %

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AlertThresholds:
        environ = os.environ if environ is None else environ
        values = {}
        for name, field in cls.model_fields.items():
            text = environ.get(f"{ENV_PREFIX}{name.upper()}", "").strip()
            if text:
                values[name] = _parse(name, text, field.annotation)
        return cls(**values)


def _parse(name: str, text: str, kind) -> float | int:
    variable = f"{ENV_PREFIX}{name.upper()}={text!r}"
    try:
        value = int(text) if kind in (int, "int") else float(text)
    except ValueError:
        expected = "a whole number" if kind in (int, "int") else "a number"
        raise AlertThresholdError(f"{variable}: must be {expected}") from None
    if not math.isfinite(value) or value < 0:
        raise AlertThresholdError(f"{variable}: must be a finite number of at least 0")
    if name.endswith("_pct") and value > 100:
        raise AlertThresholdError(f"{variable}: a percentage, must be at most 100")
    if name.endswith("_days") and value < 1:
        raise AlertThresholdError(f"{variable}: must be at least 1 day")
    return value
