"""Every dbt model, seed and test as Dagster assets and asset checks."""

from dagster import AssetExecutionContext
from dagster_dbt import DbtCliResource, dbt_assets

from dagster_project.local.environment import apply_env
from dagster_project.project import dbt_project, ensure_manifest
from dagster_project.translator import WarehouseTranslator


@dbt_assets(
    manifest=ensure_manifest(),
    project=dbt_project,
    dagster_dbt_translator=WarehouseTranslator(),
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    apply_env()  # dbt's profile reads WAREHOUSE_* from the environment
    yield from dbt.cli(["build"], context=context).stream()
