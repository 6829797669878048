"""`ops.sync_state` and the one-sync-at-a-time lock, shared by every extract-load.

The lock is a session-level advisory lock: it dies with its connection, so a crashed
sync never leaves a source locked (a status column would need a manual reset).
"""

from __future__ import annotations

import contextlib

import psycopg


class SyncAlreadyRunning(RuntimeError):
    """Another sync of the same source holds the lock: this one refuses rather than waits."""


def acquire(conn: psycopg.Connection, sync_id: str) -> None:
    got = conn.execute("select pg_try_advisory_lock(hashtext(%s))", [sync_id]).fetchone()[0]
    conn.commit()
    if not got:
        raise SyncAlreadyRunning(
            f"another {sync_id} run is in progress (it holds the advisory lock {sync_id!r}); "
            "this run refuses rather than waits — retry when it finishes"
        )


def release(conn: psycopg.Connection, sync_id: str) -> None:
    """Roll back anything still open (an interrupted run must not commit), then unlock."""
    with contextlib.suppress(psycopg.Error):  # a dead session has released the lock already
        conn.rollback()
        conn.execute("select pg_advisory_unlock(hashtext(%s))", [sync_id])
        conn.commit()


def record(conn: psycopg.Connection, sync_id: str, status: str, **fields) -> None:
    """Upsert the source's row: status running / idle / error plus any given columns."""
    assignments = "".join(f", {k} = %({k})s" for k in fields)
    conn.execute(
        f"""insert into ops.sync_state (id, status) values (%(id)s, %(status)s)
            on conflict (id) do update set status = excluded.status, updated_at = now()
            {assignments}""",
        {"id": sync_id, "status": status, **fields},
    )
    conn.commit()


def record_failure(conn: psycopg.Connection, sync_id: str, exc: BaseException) -> None:
    """Best effort: a lost connection cannot record anything, and must not hide `exc`.
    The counts describe the run of `last_run_at`, so a failed run zeroes them rather than
    leave the last success's figures beside its error."""
    with contextlib.suppress(psycopg.Error):
        conn.rollback()
        message = f"{type(exc).__name__}: {exc}"[:2000]
        record(
            conn, sync_id, "error", last_run_at=_now(conn), error_message=message,
            items_processed=0, items_quarantined=0,
        )  # fmt: skip


def _now(conn: psycopg.Connection):
    return conn.execute("select now()").fetchone()[0]


def record_success(conn: psycopg.Connection, sync_id: str, **fields) -> None:
    record(conn, sync_id, "idle", last_run_at=_now(conn), error_message=None, **fields)
