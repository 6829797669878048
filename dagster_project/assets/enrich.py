"""Enrichment computed at load time from landed data (lookups, not metrics)."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from dagster_project.ingest.user_agents import parse_new_user_agents
from dagster_project.resources import WarehouseResource


@asset(
    key=["raw", "user_agents"],
    deps=[["raw", "yesgoddess__attribution"]],
    group_name="raw",
    kinds={"python", "postgres"},
    description=(
        "Distinct user-agent strings of raw.yesgoddess__attribution parsed by ua-parser "
        "into device type, browser and OS — only strings landed since the last run."
    ),
)
def user_agents(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.connect() as conn:
        added = parse_new_user_agents(conn, "yesgoddess__attribution", "user_agent")
        known = conn.execute("select count(*) from raw.user_agents").fetchone()[0]
    context.log.info(f"parsed {added} new user agents ({known} known)")
    return MaterializeResult(metadata={"new_user_agents": added, "user_agents": known})
