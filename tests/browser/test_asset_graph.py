"""The Dagster UI in a real browser: the asset graph draws the lineage from a raw table to
a mart, a partition launched through the webserver's GraphQL API materializes, and a
screenshot of the graph lands under ANALYTICS_HOME."""

from __future__ import annotations

import time

import pytest
from dagster import AssetKey

from dagster_project.definitions import defs
from dagster_project.settings import analytics_home
from tests.browser.asset_graph_page import AssetGraphPage
from tests.browser.conftest import DEMO_END, MART
from tests.browser.dagster_graphql import failure_messages, launch_partition, wait_for_run

SOURCE = ["mashups", "analytics_events"]  # the app table, an external asset
RAW = ["raw", "mashups__analytics_events"]
RUN_TIMEOUT_S = 240
SCREENSHOTS = "screenshots"  # under ANALYTICS_HOME

pytestmark = pytest.mark.browser


def lineage(upstream: list[str], downstream: list[str]) -> list[tuple[str, str]]:
    """(group, name) of each asset on the shortest path from upstream to downstream in defs
    (the UI titles a node with its key's last part, inside its group)."""
    graph = defs.resolve_asset_graph()
    start, goal = AssetKey(upstream), AssetKey(downstream)
    came_from: dict[AssetKey, AssetKey | None] = {start: None}
    frontier = [start]
    while frontier and goal not in came_from:
        next_frontier = []
        for key in frontier:
            for child in graph.get(key).child_keys - came_from.keys():
                came_from[child] = key
                next_frontier.append(child)
        frontier = next_frontier
    assert goal in came_from, f"{goal.to_user_string()} is not downstream of {start}"
    path, key = [], goal
    while key is not None:
        path.append((graph.get(key).group_name, key.path[-1]))
        key = came_from[key]
    return path[::-1]


def test_asset_graph_draws_raw_to_mart_and_a_partition_materializes(browser, webserver):
    started = time.monotonic()
    chain = lineage(SOURCE, MART)
    assert chain[:2] == [("sources", SOURCE[-1]), ("raw", RAW[-1])]
    assert chain[-1] == ("marts_mashups", MART[-1])
    assert len(chain) >= 4  # through staging

    page = AssetGraphPage(browser, webserver.url).open(f'+key:"{"/".join(MART)}"')
    page.expand_all_groups()
    page.wait_for_assets(chain)
    for upstream, downstream in zip(chain, chain[1:], strict=False):
        assert page.edge_between(upstream, downstream), f"no edge {upstream} → {downstream}"

    drawn_at = time.monotonic()
    run_id = launch_partition(webserver, MART, DEMO_END.isoformat())
    run = wait_for_run(webserver, run_id, RUN_TIMEOUT_S)
    assert run["status"] == "SUCCESS", (
        f"run {run_id} ended {run['status']}: {failure_messages(webserver, run_id)}\n"
        f"{webserver.log_tail(2000)}"
    )
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags["dagster/partition"] == DEMO_END.isoformat()

    ran_at = time.monotonic()
    # for the docs: the drawn lineage with the run's result, then the whole graph
    page.open(f'+key:"{"/".join(MART)}"')
    page.expand_all_groups()
    shot = page.screenshot(analytics_home() / SCREENSHOTS / "asset-graph-lineage.png")
    assert shot.stat().st_size > 20_000, f"{shot} is suspiciously small"
    browser.set_window_size(1920, 1300)  # before loading: the graph fits the window it opens in
    page.open()
    page.collapse_all_groups()
    whole = page.screenshot(analytics_home() / SCREENSHOTS / "asset-graph.png")
    assert whole.stat().st_size > 20_000, f"{whole} is suspiciously small"
    print(
        f"graph checked in {drawn_at - started:.0f} s, run in {ran_at - drawn_at:.0f} s, "
        f"screenshots in {time.monotonic() - ran_at:.0f} s: {shot.parent}"
    )
