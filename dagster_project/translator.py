"""dbt nodes → Dagster asset keys `[schema, table]` and groups by layer and domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetKey
from dagster_dbt import DagsterDbtTranslator


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        # Sources map to the raw tables' keys, so EL assets and dbt form one graph.
        table = dbt_resource_props.get("alias") or dbt_resource_props.get("identifier")
        return AssetKey([dbt_resource_props["schema"], table or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return group_for_fqn(dbt_resource_props["fqn"], dbt_resource_props["resource_type"])


def group_for_fqn(fqn: list[str], resource_type: str) -> str:
    """`[project, layer, domain, model]` → `layer_domain`; shallower paths → `layer`."""
    if resource_type == "seed":
        return "seeds"
    if resource_type == "source":
        return "raw"
    folders = fqn[1:-1]
    return "_".join(folders[:2]) if folders else "default"
