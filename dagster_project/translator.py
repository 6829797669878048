"""dbt nodes → Dagster asset keys `[schema, table]` and groups by layer and domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        # Sources map to the raw tables' keys, so EL assets and dbt form one graph.
        table = dbt_resource_props.get("alias") or dbt_resource_props.get("identifier")
        return AssetKey([dbt_resource_props["schema"], table or dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return group_for_fqn(dbt_resource_props["fqn"], dbt_resource_props["resource_type"])

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project
    ) -> AssetCheckSpec | None:
        # dbt tests come without a description; the UI shows this one beside the check
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return spec._replace(description=describe_dbt_test(manifest["nodes"][unique_id]))


def describe_dbt_test(node: Mapping[str, Any]) -> str:
    """`unique` on `orders.id` → "dbt test unique on column id"; singular tests → their file."""
    if node.get("description"):
        return node["description"]
    meta = node.get("test_metadata")
    if not meta:
        return f"dbt singular test {node.get('original_file_path') or node['name']}"
    kwargs = {k: v for k, v in meta["kwargs"].items() if k not in ("model", "column_name")}
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    column = f" on column {node['column_name']}" if node.get("column_name") else ""
    return f"dbt test {meta['name']}{column}" + (f" ({args})" if args else "")


def group_for_fqn(fqn: list[str], resource_type: str) -> str:
    """`[project, layer, domain, model]` → `layer_domain`; shallower paths → `layer`."""
    if resource_type == "seed":
        return "seeds"
    if resource_type == "source":
        return "raw"
    folders = fqn[1:-1]
    return "_".join(folders[:2]) if folders else "default"
