"""One connected asset graph: every source system → raw → staging → marts and exports."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from dagster_project.assets.sources import (
    GIFT_SOURCE_KEY,
    GROUP,
    MASHUP_COUNTERS_SOURCE_KEY,
    SOURCE_SPECS,
)
from dagster_project.definitions import defs
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.settings import SYSTEMS

SOURCE_KEYS = {spec.key for spec in SOURCE_SPECS}


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def _reachable_from_sources(graph) -> set[AssetKey]:
    seen: set[AssetKey] = set()
    frontier = list(SOURCE_KEYS)
    while frontier:
        key = frontier.pop()
        if key not in seen:
            seen.add(key)
            frontier.extend(graph.get(key).child_keys)
    return seen


def test_every_source_table_and_the_redis_gifts_are_external_source_assets(graph):
    redis_sources = {AssetKey(GIFT_SOURCE_KEY), AssetKey(MASHUP_COUNTERS_SOURCE_KEY)}
    expected = {AssetKey([s.system, s.table]) for s in SOURCE_TABLES} | redis_sources
    assert expected == SOURCE_KEYS
    assert {s.system for s in SOURCE_TABLES} == set(SYSTEMS)
    for key in SOURCE_KEYS:
        node = graph.get(key)
        assert node.is_external and not node.is_materializable, key
        assert node.group_name == GROUP, key
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.kinds & {"postgres", "redis"}, key
        assert node.metadata["system"], key


def test_every_raw_asset_reads_a_source_asset(graph):
    """Landed tables read their source; lookups computed from landed data (raw/user_agents)
    read another raw table."""
    raw = {k for k in graph.get_all_asset_keys() if k.path[0] == "raw"}
    landed = {AssetKey(s.asset_key) for s in SOURCE_TABLES} | {
        AssetKey(["raw", "gift_analytics"]),
        AssetKey(["raw", "mashups__realtime_counts"]),
    }
    assert landed <= raw
    for key in landed:
        assert graph.get(key).parent_keys & SOURCE_KEYS, f"{key.to_user_string()} has no source"
    for key in raw - landed:
        assert graph.get(key).parent_keys & landed, f"{key.to_user_string()} reads no raw table"
    assert graph.get(AssetKey(["raw", "gift_analytics"])).parent_keys == {AssetKey(GIFT_SOURCE_KEY)}


def test_every_mart_and_export_is_reachable_from_a_source(graph):
    reachable = _reachable_from_sources(graph)
    ends = [k for k in graph.get_all_asset_keys() if k.path[0] in ("marts", "embed", "exports")]
    assert any(k.path[0] == "exports" for k in ends) and any(k.path[0] == "marts" for k in ends)
    unreachable = sorted(k.to_user_string() for k in ends if k not in reachable)
    assert not unreachable, f"not reachable from any source asset: {unreachable}"


def test_only_sources_and_dbt_seeds_have_no_upstream(graph):
    """The graph is connected from the sources: nothing floats on its own. dbt seeds are
    reference data versioned in this repository (seeds/), the other kind of root."""
    roots = {k for k in graph.get_all_asset_keys() if not graph.get(k).parent_keys}
    not_sources = {k for k in roots - SOURCE_KEYS if graph.get(k).group_name != "seeds"}
    assert not not_sources, sorted(k.to_user_string() for k in not_sources)
    assert roots >= SOURCE_KEYS
    # and every asset at all hangs off a source or a seed
    orphans = graph.get_all_asset_keys() - _reachable_from_sources(graph) - roots
    assert all(graph.get(k).parent_keys for k in orphans)


def test_jobs_select_no_source_asset():
    """Sources are external: no job may try to materialize them."""
    for job in defs.resolve_all_job_defs():
        selected = {k for k in job.asset_layer.selected_asset_keys} if job.asset_layer else set()
        assert not selected & SOURCE_KEYS, job.name
