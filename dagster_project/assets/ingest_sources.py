"""App databases → `raw.<system>__<table>`: one Dagster asset per declared source table."""

import os

from dagster import AssetExecutionContext, AssetsDefinition, MaterializeResult, asset

from dagster_project.checks.freshness import NIGHTLY, raw_freshness_policy
from dagster_project.ingest.deletions import DeletionCheck, detect_deletions
from dagster_project.ingest.extract_load import LoadResult, extract_load, source_engine
from dagster_project.ingest.source_tables import SourceTable
from dagster_project.local.environment import apply_env
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import TRANSIENT_RETRY, failures_classified, source_pool


def source_url(spec: SourceTable) -> str:
    """SOURCE_<SYSTEM>_URL, or the embedded database of that system when the warehouse is
    embedded too; with an external warehouse, a missing source URL is an error."""
    apply_env(dagster_home=False)  # inside a run: the instance is already chosen
    url = os.environ.get(spec.url_env)
    if not url:
        raise RuntimeError(
            f"{spec.url_env} is not set: point it at the {spec.system} app database "
            f"(any SQLAlchemy URL) to load {spec.system}.{spec.table}"
        )
    return url


def source_table_asset(spec: SourceTable) -> AssetsDefinition:
    @asset(
        key=spec.asset_key,
        deps=[spec.source_key],
        group_name="raw",
        kinds={"postgres"},
        freshness_policy=raw_freshness_policy(NIGHTLY),
        # one sync per app database at a time; a lost connection is retried
        pool=source_pool(spec.system),
        retry_policy=TRANSIENT_RETRY,
        description=(
            f"{spec.system}.{spec.table} from {spec.url_env}, incremental by "
            f"{spec.cursor} (overlap {spec.overlap}), upserted by {', '.join(spec.primary_key)}."
            + (" Rows deleted at the source get _deleted_at." if spec.detect_deletes else "")
        ),
    )
    def _load(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        engine = source_engine(source_url(spec))
        try:
            with (
                failures_classified(f"sync of {spec.system}.{spec.table}"),
                warehouse.connect() as conn,
            ):
                result = extract_load(conn, engine, spec)
                deletions = detect_deletions(conn, engine, spec) if spec.detect_deletes else None
        finally:
            engine.dispose()
        return _reported(context, spec, result, deletions)

    return _load


def _reported(
    context: AssetExecutionContext,
    spec: SourceTable,
    result: LoadResult,
    deletions: DeletionCheck | None,
) -> MaterializeResult:
    """The load in the run's log and the materialization's metadata; a column gone at the
    source is a warning, since its rows keep landing (with it NULL)."""
    context.log.info(
        f"landed {result.rows} rows, quarantined {result.quarantined} "
        f"(quarantine.source_rows); cursor {result.cursor_after}"
    )
    if result.missing_columns:
        context.log.warning(
            f"{spec.system}.{spec.table} no longer has {', '.join(result.missing_columns)}: "
            f"rows land with them NULL in raw.{spec.raw_table}. Restore them at the source, "
            "or change the models that read them"
        )
    metadata = {
        "rows_landed": result.rows,
        "rows_quarantined": result.quarantined,
        "cursor": result.cursor_after or "",
        "cursor_before": result.cursor_before or "",
        "added_columns": ", ".join(result.added_columns),
        "columns_missing_at_source": ", ".join(result.missing_columns),
    }
    if deletions:
        context.log.info(
            f"deletion check: {deletions.keys_at_source} keys at the source, "
            f"{deletions.deleted} rows deleted there, {deletions.restored} back"
        )
        metadata |= {
            "rows_deleted_at_source": deletions.deleted,
            "rows_restored_at_source": deletions.restored,
        }
    return MaterializeResult(metadata=metadata)
