"""Housekeeping of export requests (seed 002's cleanup job and its troubleshooting):
expired files are deleted and their requests marked `expired`; requests stuck in
`preparing` with no live run are failed with the reason. A row's file_path is data (a
row can be inserted or edited by hand): only a file inside the exports directory is ever
deleted; any other path is left alone and reported."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import psycopg

from dagster_project.exports.service import EXPORT_ERROR, exports_dir, resolve_inside
from dagster_project.ingest.warehouse_tables import ensure_tables

STUCK_AFTER_MINUTES = 5  # seed 002: "stuck on preparing" after 5 minutes
PARTIAL_MAX_AGE_S = 3600  # a `.partial` file this old belongs to no live writer


@dataclass(frozen=True)
class Cleanup:
    expired: list[str]  # request ids marked expired
    files_deleted: int
    partials_deleted: int
    refused: list[tuple[str, str]]  # (request id, file_path) outside the exports dir: kept


def expire_exports(conn: psycopg.Connection, directory: Path | None = None) -> Cleanup:
    """Mark every ready request past its expires_at `expired` and delete its file when it
    lies inside the exports directory (any other path is kept and reported in `refused`);
    also delete `.partial` files left by a writer that was killed (a crash skips its own
    clean-up)."""
    ensure_tables(conn)
    folder = directory or exports_dir()
    rows = conn.execute(
        "update ops.export_requests set status = 'expired' "
        "where status = 'ready' and expires_at <= now() returning id, file_path"
    ).fetchall()
    deleted, refused = 0, []
    for request_id, file_path in rows:  # one unlink per file: there is no bulk delete of files
        path = resolve_inside(folder, file_path) if file_path else None
        if file_path and path is None:
            refused.append((request_id, file_path))
        elif path is not None and path.is_file():
            path.unlink()
            deleted += 1
    # the rows are committed only after their files are gone: a crash in between leaves
    # them ready, and the next run deletes the file again (missing is fine)
    conn.commit()
    expired = [request_id for request_id, _ in rows]
    return Cleanup(expired, deleted, _delete_partials(directory), refused)


def _delete_partials(directory: Path | None) -> int:
    folder = directory or exports_dir()
    if not folder.is_dir():
        return 0
    cutoff = time.time() - PARTIAL_MAX_AGE_S
    old = [p for p in folder.glob(".*.partial") if p.stat().st_mtime < cutoff]
    for partial in old:
        partial.unlink(missing_ok=True)
    return len(old)


def fail_stuck_requests(
    conn: psycopg.Connection,
    live_request_ids: Collection[str],
    *,
    older_than_minutes: int = STUCK_AFTER_MINUTES,
) -> list[str]:
    """Fail `preparing` requests older than `older_than_minutes` that no live run is
    writing (their run died, was cancelled, or never started): seed 002's "stuck on
    preparing" with the reason stored. Returns the ids failed."""
    ensure_tables(conn)
    rows = conn.execute(
        "update ops.export_requests set status = 'failed', error_code = %s, "
        "error_message = 'Timeout: no live export_file run for ' || %s || ' minutes "
        "(its run ended, or export_request_sensor is off; runs are tagged "
        "export_request_id=' || id || '). Request the export again.', "
        "completed_at = now() "
        "where status = 'preparing' and created_at < now() - make_interval(mins => %s) "
        "and id <> all(%s) returning id",
        [EXPORT_ERROR, older_than_minutes, older_than_minutes, list(live_request_ids)],
    ).fetchall()
    conn.commit()
    return [request_id for (request_id,) in rows]
