"""Exports in the asset graph: one executable asset per export dataset, downstream of the
relation it reads. Materializing one (UI or CLI) writes a file of the last 30 complete
days; requests (ops.export_requests) write any window through the export_file job, which
records the file as a materialization of the same asset; the ML dataset (seed 003) is
also written nightly by its own schedule. The refresh jobs never select exports."""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)

from dagster_project.exports.datasets import DATASETS, FORMATS, Dataset
from dagster_project.exports.ops import export_asset_key
from dagster_project.exports.service import ExportError, export_now
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import TRANSIENT_RETRY, failures_classified

GROUP = "exports"
ML_DATASET = "ml_responses"
DEFAULT_DAYS = 30
# A materialized file (seed 003's nightly dump, or an engineer's Materialize) is not a
# user's request: seed 002's 100k-row cap protects the request API and does not apply
# (the file is streamed either way)
FILE_MAX_ROWS = 50_000_000
# kept two days, so last night's file is there until tonight's has replaced it
FILE_EXPIRY_HOURS = 48


def _description(dataset: Dataset) -> str:
    schema, table = dataset.relation
    filters = ", ".join(dataset.filters) or "none"
    text = (
        f"CSV/JSON files of {schema}.{table} in ANALYTICS_HOME/exports/. Materializing the "
        f"asset writes the last {DEFAULT_DAYS} complete UTC days (config: days, format); a "
        f"request (`analytics export request --dataset {dataset.name}`, or a row in "
        f"ops.export_requests) writes any window through the export_file job. Filters: "
        f"from/to on {dataset.date_column}, {filters}."
    )
    if dataset.pii_relation:
        text += " PII is redacted unless the request sets include_pii=true."
    return text


def _deps(dataset: Dataset) -> list[list[str]]:
    relations = [dataset.relation, *([dataset.pii_relation] if dataset.pii_relation else [])]
    return [list(relation) for relation in relations]


class ExportFileWindowConfig(Config):
    """The window and format of a file written by materializing an export asset."""

    days: int = DEFAULT_DAYS
    format: str = "csv"


def ml_window(today, days: int) -> dict[str, str]:
    """The last `days` complete UTC days before `today`, as the request's from/to."""
    if not 1 <= days <= 365:
        raise Failure(f"days must be between 1 and 365 (seed 003), got {days}", allow_retries=False)
    return {
        "from": (today - timedelta(days=days)).isoformat(),
        "to": (today - timedelta(days=1)).isoformat(),
    }


def _write_window(context, config, warehouse, dataset: str) -> MaterializeResult:
    if config.format not in FORMATS:
        raise Failure(f"format must be csv or json, got {config.format!r}", allow_retries=False)
    filters = ml_window(datetime.now(UTC).date(), config.days)
    with failures_classified(f"{dataset} export"):
        try:
            with warehouse.connect() as conn:
                request = export_now(
                    conn, dataset, config.format, filters,
                    f"dagster run {context.run.run_id[:8]}",
                    max_rows=FILE_MAX_ROWS, expiry_hours=FILE_EXPIRY_HOURS,
                )  # fmt: skip
        except ExportError as exc:
            raise Failure(
                f"{dataset} export failed ({exc.code}): {exc.message}", allow_retries=False
            ) from exc
    context.log.info(f"{dataset}: {request['actual_rows']} rows in {request['file_path']}")
    return MaterializeResult(
        metadata={
            "request_id": request["id"],
            "rows": request["actual_rows"],
            "file": MetadataValue.path(request["file_path"]),
            "from": filters["from"],
            "to": filters["to"],
            "expires_at": str(request["expires_at"]),
        }
    )


def export_asset(dataset: Dataset, description: str | None = None) -> AssetsDefinition:
    """The dataset's export as an executable asset: the UI's Materialize and the CLI's
    `asset materialize` write a file of the last days, like the ML dataset's schedule;
    export_file runs record their files as materializations of the same asset."""

    @asset(
        key=export_asset_key(dataset.name),
        deps=_deps(dataset),
        group_name=GROUP,
        kinds={"csv", "json"},
        retry_policy=TRANSIENT_RETRY,
        description=description or _description(dataset),
    )
    def _export(
        context: AssetExecutionContext,
        config: ExportFileWindowConfig,
        warehouse: WarehouseResource,
    ) -> MaterializeResult:
        return _write_window(context, config, warehouse, dataset.name)

    return _export


ml_responses_export = export_asset(
    DATASETS[ML_DATASET],
    description=(
        "Seed 003's ML dataset: marts.ml_response_samples of the last 30 complete days as "
        "CSV (or JSON) in ANALYTICS_HOME/exports/, nightly by the ml_dataset_nightly "
        "schedule; on-request exports of dataset ml_responses also land here."
    ),
)
EXPORT_ASSETS = [
    ml_responses_export,
    *(export_asset(dataset) for dataset in DATASETS.values() if dataset.name != ML_DATASET),
]


ml_dataset_job = define_asset_job(
    name="ml_dataset",
    selection=[ml_responses_export],
    description=(
        "Write seed 003's ML dataset file (marts.ml_response_samples, last 30 complete days) "
        "into ANALYTICS_HOME/exports/."
    ),
    tags={"kind": "export"},
)
