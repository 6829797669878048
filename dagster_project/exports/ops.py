"""The export jobs: `export_file` writes one request (the export_request_sensor launches
it), `export_cleanup` expires old files and fails requests stuck in `preparing`."""

from dagster import (
    AssetMaterialization,
    Config,
    DagsterInstance,
    DagsterRunStatus,
    Failure,
    MetadataValue,
    OpExecutionContext,
    Output,
    RunsFilter,
    job,
    op,
)

from dagster_project.exports.cleanup import STUCK_AFTER_MINUTES, expire_exports, fail_stuck_requests
from dagster_project.exports.service import run_export
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import TRANSIENT_RETRY, failures_classified

EXPORT_REQUEST_TAG = "export_request_id"
LIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def export_asset_key(dataset: str) -> list[str]:
    """The asset an export of `dataset` materializes (dagster_project/assets/exports.py)."""
    return ["exports", dataset]


def live_export_request_ids(instance: DagsterInstance) -> set[str]:
    """Requests an export_file run is queued for or writing right now."""
    return {
        record.dagster_run.tags[EXPORT_REQUEST_TAG]
        for record in instance.get_run_records(RunsFilter(job_name="export_file", statuses=LIVE))
        if EXPORT_REQUEST_TAG in record.dagster_run.tags
    }


class ExportFileConfig(Config):
    """Which request of ops.export_requests to write (the sensor sets it)."""

    request_id: str


def _request_metadata(request: dict) -> dict:
    meta = {
        "request_id": request["id"],
        "status": request["status"],
        "dataset": request["dataset"],
        "type": request["type"],
        "filters": MetadataValue.json(request["filters"]),
    }
    if request["status"] == "ready":
        meta |= {
            "rows": request["actual_rows"],
            "file": MetadataValue.path(request["file_path"]),
            "expires_at": str(request["expires_at"]),
        }
    else:
        meta["error"] = f"{request['error_code']}: {request['error_message']}"
    return meta


@op(
    name="write_export_file",
    # a lost connection while writing leaves the request `preparing`: the retry writes it
    retry_policy=TRANSIENT_RETRY,
    description=(
        "Validate the export request (dataset, filters, dates, 365-day range, 100k-row "
        "estimate), then stream its rows to ANALYTICS_HOME/exports/ and mark it ready "
        "(expires in 24 h), or failed with seed 002's error code and the reason."
    ),
)
def write_export_file(
    context: OpExecutionContext, config: ExportFileConfig, warehouse: WarehouseResource
) -> Output[str]:
    with failures_classified(f"export {config.request_id}"), warehouse.connect() as conn:
        request = run_export(conn, config.request_id)
    if request is None:
        raise Failure(
            f"export request {config.request_id!r} not found in ops.export_requests",
            allow_retries=False,
        )
    meta = _request_metadata(request)
    if request["status"] == "failed":
        raise Failure(
            f"export {request['id']} failed ({request['error_code']}): {request['error_message']}",
            metadata=meta,
            allow_retries=False,
        )
    if request["status"] == "ready":
        context.log.info(
            f"export {request['id']}: {request['actual_rows']} rows in {request['file_path']}"
        )
        # the file is a new version of the dataset's export asset in the UI's graph
        context.log_event(
            AssetMaterialization(asset_key=export_asset_key(request["dataset"]), metadata=meta)
        )
    return Output(request["id"], metadata=meta)


@job(
    name="export_file",
    description=(
        "Write one export request of ops.export_requests (seed 002's generate_export_file); "
        "the export_request_sensor launches one run per preparing request."
    ),
    tags={"kind": "export"},
)
def export_file_job():
    write_export_file()


@op(
    name="clean_up_exports",
    description=(
        "Mark ready exports past expires_at `expired` and delete their files (and `.partial` "
        "files of killed writers) — only inside ANALYTICS_HOME/exports/, any other file_path "
        f"is kept and reported; fail requests `preparing` for {STUCK_AFTER_MINUTES} "
        "minutes with no live export_file run."
    ),
)
def clean_up_exports(context: OpExecutionContext, warehouse: WarehouseResource) -> Output[int]:
    with warehouse.connect() as conn:
        done = expire_exports(conn)
        stuck = fail_stuck_requests(conn, live_export_request_ids(context.instance))
    context.log.info(
        f"expired {len(done.expired)} export(s), deleted {done.files_deleted} file(s) and "
        f"{done.partials_deleted} partial file(s); failed {len(stuck)} stuck request(s)"
    )
    for request_id, file_path in done.refused:
        context.log.warning(
            f"export {request_id}: file_path {file_path!r} is outside the exports directory: "
            "not deleted"
        )
    return Output(
        len(done.expired),
        metadata={
            "expired": len(done.expired),
            "files_deleted": done.files_deleted,
            "partials_deleted": done.partials_deleted,
            "stuck_failed": len(stuck),
            "files_refused": len(done.refused),
            "refused": "; ".join(f"{rid}: {path}" for rid, path in done.refused[:20]),
            "expired_ids": ", ".join(done.expired[:20]),
            "stuck_ids": ", ".join(stuck[:20]),
        },
    )


@job(
    name="export_cleanup",
    description=(
        "Seed 002's export cleanup: expire exports older than their 24 h and delete the "
        "files; fail requests stuck in `preparing`."
    ),
    tags={"kind": "export"},
)
def export_cleanup_job():
    clean_up_exports()
