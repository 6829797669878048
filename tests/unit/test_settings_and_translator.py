"""URL → dbt profile variables; dbt node → asset key and group."""

from __future__ import annotations

import pytest
from dagster import AssetKey

from dagster_project.settings import dbt_env_from_url
from dagster_project.translator import WarehouseTranslator, describe_dbt_test, group_for_fqn


def test_url_is_split_for_the_dbt_profile():
    env = dbt_env_from_url("postgresql+psycopg://an%40alyst:p%3Ass@db.internal:6543/wh")
    assert env == {
        "WAREHOUSE_HOST": "db.internal",
        "WAREHOUSE_PORT": "6543",
        "WAREHOUSE_USER": "an@alyst",
        "WAREHOUSE_PASSWORD": "p:ss",
        "WAREHOUSE_DB": "wh",
    }


def test_a_non_postgres_url_is_refused_with_the_value():
    with pytest.raises(ValueError, match="must be a postgresql:// URL.*mysql://x/y"):
        dbt_env_from_url("mysql://x/y")


def test_sources_and_models_map_to_schema_and_table():
    t = WarehouseTranslator()
    source = {
        "resource_type": "source",
        "schema": "raw",
        "name": "gift_analytics",
        "identifier": "gift_analytics",
        "fqn": ["p", "staging", "cryptogift", "x"],
    }
    model = {
        "resource_type": "model",
        "schema": "marts",
        "name": "fct_gift_funnel_daily",
        "alias": "fct_gift_funnel_daily",
        "fqn": ["p", "marts", "gifts", "fct"],
    }
    assert t.get_asset_key(source) == AssetKey(["raw", "gift_analytics"])
    assert t.get_asset_key(model) == AssetKey(["marts", "fct_gift_funnel_daily"])


@pytest.mark.parametrize(
    ("fqn", "kind", "group"),
    [
        (["p", "staging", "cryptogift", "stg"], "model", "staging_cryptogift"),
        (["p", "marts", "gifts", "fct"], "model", "marts_gifts"),
        (["p", "embed", "gift_funnel_public"], "model", "embed"),
        (["p", "event_taxonomy"], "seed", "seeds"),
    ],
)
def test_groups_follow_layer_and_domain(fqn, kind, group):
    assert group_for_fqn(fqn, kind) == group


def test_every_asset_check_has_a_description_for_the_ui():
    from dagster_project.definitions import defs

    specs = {
        spec.key: spec
        for assets_def in defs.get_repository_def().assets_defs_by_key.values()
        for spec in assets_def.check_specs
    }
    assert len(specs) > 100  # the dbt tests are among them
    assert [key for key, spec in specs.items() if not spec.description] == []


def test_a_dbt_test_is_described_by_its_name_column_and_arguments():
    generic = {
        "name": "accepted_values_x",
        "column_name": "status",
        "test_metadata": {
            "name": "accepted_values",
            "kwargs": {"values": ["paid", "open"], "column_name": "status", "model": "m"},
        },
    }
    singular = {"name": "assert_x", "original_file_path": "tests/assert_x.sql"}
    assert describe_dbt_test(generic) == (
        "dbt test accepted_values on column status (values=['paid', 'open'])"
    )
    assert describe_dbt_test(singular) == "dbt singular test tests/assert_x.sql"
    assert describe_dbt_test({**singular, "description": "why"}) == "why"
