"""The Dagster side: definitions, the job through Dagster, the sensor, the CLI command."""

from __future__ import annotations

import os
import subprocess

from dagster import AssetKey, DagsterInstance, RunRequest, SkipReason, build_sensor_context

from dagster_project.definitions import defs
from dagster_project.resources import RedisResource
from dagster_project.sensors import gift_dirty_sensor
from tests import gift_fixture
from tests.conftest import REPO_ROOT, python_bin
from tests.integration.test_gift_marts import FUNNEL_SQL

GIFT_LINEAGE = [
    AssetKey(["raw", "gift_analytics"]),
    AssetKey(["staging", "stg_cryptogift__gifts"]),
    AssetKey(["intermediate", "int_gift_events_unpivoted"]),
    AssetKey(["marts", "fct_gift_funnel_daily"]),
    AssetKey(["marts", "fct_gift_activity_daily"]),
    AssetKey(["embed", "gift_funnel_public"]),
]


def test_definitions_form_one_graph_from_redis_to_the_embed():
    graph = defs.resolve_asset_graph()
    assert set(GIFT_LINEAGE) <= graph.get_all_asset_keys()
    embed_ancestors = graph.upstream_key_iterator(AssetKey(["embed", "gift_funnel_public"]))
    assert AssetKey(["raw", "gift_analytics"]) in set(embed_ancestors)
    check_names = {k.name for k in graph.asset_check_keys}
    assert "unique_grain_fct_gift_funnel_daily_date__campaign_id" in check_names
    assert "assert_funnel_steps_within_created" in check_names
    assert defs.resolve_sensor_def("gift_dirty_sensor").description


def test_gift_refresh_job_materializes_the_lineage(conn, redis_client, gift_prefix):
    from dagster_project.demo import run_gift_refresh

    gift_fixture.load(redis_client, gift_prefix, counter_prefix=f"{gift_prefix}campaign:")
    result = run_gift_refresh(DagsterInstance.ephemeral())

    assert result.success
    events = {
        e.materialization.asset_key: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert set(GIFT_LINEAGE) <= set(events)
    sync = {k: v.value for k, v in events[AssetKey(["raw", "gift_analytics"])].items()}
    assert (sync["gifts_synced"], sync["gifts_quarantined"], sync["still_dirty"]) == (11, 2, 0)
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    quarantine = checks.pop("gift_quarantine_rate")
    assert not quarantine.passed  # 2 of 13 gifts rejected: above the 1 % warning line
    assert quarantine.metadata["quarantined"].value == 2
    assert len(checks) > 20 and all(c.passed for c in checks.values())  # the dbt tests
    # and the checks beyond them: Redis counters reconcile, the gift funnel is monotonic
    assert {"campaign_counters_match_warehouse", "funnel_steps_monotonic"} <= set(checks)
    assert conn.execute(FUNNEL_SQL).fetchall() == gift_fixture.FUNNEL


def test_sensor_starts_the_sync_only_when_gifts_are_dirty(redis_client, gift_prefix):
    instance = DagsterInstance.ephemeral()
    context = build_sensor_context(instance=instance, resources={"redis": RedisResource()})
    assert isinstance(gift_dirty_sensor(context), SkipReason)

    gift_fixture.load(redis_client, gift_prefix, {"g01": gift_fixture.GIFTS["g01"]})
    request = gift_dirty_sensor(context)
    assert isinstance(request, RunRequest) and request.tags["dirty_gifts"] == "1"


def test_dagster_cli_materializes_from_the_repo_root(conn, redis_client, gift_prefix, tmp_path):
    gift_fixture.load(redis_client, gift_prefix)
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    # Dagster 1.13's `asset materialize` takes no -w (workspace.yaml); -m names the module.
    cmd = [
        python_bin("dagster"),
        "asset",
        "materialize",
        "-m",
        "dagster_project.definitions",
        "--select",
        # the gift lineage without the DAO marts, which need the DAO tables too
        'key:"raw/gift_analytics"+ and not group:marts_dao',
    ]
    out = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-4000:]
    assert conn.execute(FUNNEL_SQL).fetchall() == gift_fixture.FUNNEL
    assert redis_client.scard(f"{gift_prefix}dirty") == 0
    assert conn.execute("select count(*) from quarantine.gift_analytics").fetchone()[0] == 2
