"""Jobs: named selections of assets that sensors and schedules launch."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

gift_refresh_job = define_asset_job(
    name="gift_refresh",
    selection=AssetSelection.assets(["raw", "gift_analytics"]).downstream(),
    description="Sync dirty gifts from Redis, then rebuild and test the gift marts.",
)
