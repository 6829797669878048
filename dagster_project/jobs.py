"""Jobs: named selections of assets that sensors and schedules launch."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

gift_refresh_job = define_asset_job(
    name="gift_refresh",
    selection=AssetSelection.assets(["raw", "gift_analytics"]).downstream(),
    description="Sync dirty gifts from Redis, then rebuild and test the gift marts.",
)


_yesgoddess = AssetSelection.assets(
    ["raw", "yesgoddess__events"], ["raw", "yesgoddess__attribution"]
).downstream()

yesgoddess_refresh_job = define_asset_job(
    name="yesgoddess_refresh",
    # upstream too: the event-type seed the staging models check against
    selection=_yesgoddess | _yesgoddess.upstream(),
    description="Extract-load YesGoddess events and attribution, then staging and quarantine.",
)
