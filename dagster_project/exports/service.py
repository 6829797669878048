"""Export requests: create, validate, write (seed 002's create_export / generate_export_file).

A request is a row of ops.export_requests. `run_export` validates it (known dataset, only
that dataset's filters, valid dates, range ≤ 365 days, estimated rows ≤ 100,000), then
streams the rows to `ANALYTICS_HOME/exports/` — CSV through `COPY … TO STDOUT`, JSON from
a server-side cursor written as an array row by row — into a temporary name renamed when
complete, so a failed run leaves no partial file. Filter values are bound parameters;
only the registry's column names become identifiers. A request id must be a ULID and the
file's resolved path must lie in the exports directory: a row inserted by hand never
writes anywhere else.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb, set_json_loads

from dagster_project.exports.datasets import (
    DATASETS,
    EXPIRY_HOURS,
    FORMATS,
    MAX_RANGE_DAYS,
    MAX_ROWS,
    RANGE_FILTERS,
    Dataset,
)
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.settings import analytics_home
from dagster_project.simulate.wallet import ulid

VALIDATION = "validation_error"
BUSINESS_RULE = "business_rule_violation"
EXPORT_ERROR = "export_error"
JSON_FETCH_ROWS = 2_000  # rows per round trip of the JSON server-side cursor
# Crockford base32 (no I, L, O, U); the first character is 0-7 because a ULID is 128 bits
ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
ULID_RULE = "an export id is a ULID: 26 characters 0-9 A-Z without I L O U, the first 0-7"

COLUMNS = (
    "id", "requested_by", "type", "dataset", "filters", "status", "estimated_rows",
    "actual_rows", "file_path", "expires_at", "error_code", "error_message", "created_at",
    "completed_at",
)  # fmt: skip


class ExportError(Exception):
    """A request that cannot run: seed 002's error code and a message naming the value
    and the rule."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Plan:
    """A validated request: the dataset, its filters as SQL, and their parameters."""

    dataset: Dataset
    where: sql.Composable
    params: list[Any]
    relation: tuple[str, str]  # the dataset's relation, or its PII one with include_pii

    def select(self, *, as_text: bool = False) -> sql.Composed:
        """The rows in a total order; `as_text` renders every value as Postgres' text form
        (for CSV: `true`/`false` rather than COPY's `t`/`f`). The order names the
        relation's columns (`t.x`), not the text outputs of the same name."""
        schema, table = self.relation
        cast = sql.SQL("t.{0}::text as {0}" if as_text else "t.{0}")
        return sql.SQL("select {cols} from {rel} as t where {where} order by {order}").format(
            cols=sql.SQL(", ").join(cast.format(sql.Identifier(c)) for c in self.dataset.columns),
            rel=sql.Identifier(schema, table),
            where=self.where,
            order=sql.SQL(", ").join(
                sql.SQL("t.{}").format(sql.Identifier(c)) for c in self.dataset.order_by
            ),
        )

    def count(self) -> sql.Composed:
        schema, table = self.relation
        return sql.SQL("select count(*) from {rel} where {where}").format(
            rel=sql.Identifier(schema, table), where=self.where
        )


def exports_dir() -> Path:
    return analytics_home() / "exports"


def new_id() -> str:
    return ulid(int(time.time() * 1000), secrets.randbits(60), secrets.randbits(20))


def _int_or_digits(digits: str) -> int | str:
    """json's int(); past Python's 4,300-digit limit the digits stay text: the same value to
    a filter (compared as text), and no ValueError for whoever reads the row."""
    try:
        return int(digits)
    except ValueError:
        return digits


def _dict_cursor(conn: psycopg.Connection) -> psycopg.Cursor:
    """A dict-row cursor whose jsonb loader takes an integer of any length: a row inserted
    by hand never makes reading ops.export_requests (the sensor, `export list`) fail."""
    set_json_loads(lambda text: json.loads(text, parse_int=_int_or_digits), conn)
    return conn.cursor(row_factory=dict_row)


def check_id(request_id: Any) -> str:
    """The id becomes part of the file name: anything but a ULID is refused."""
    if not isinstance(request_id, str) or not ULID.fullmatch(request_id):
        raise ExportError(VALIDATION, f"Export id {request_id!r} is not valid: {ULID_RULE}")
    return request_id


def resolve_inside(directory: Path, path: Path | str) -> Path | None:
    """`path` resolved (links and `..` followed) when it lies inside `directory`, else None."""
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError):  # a NUL byte, a link loop: nothing a file of ours can be
        return None
    base = directory.resolve()
    return resolved if resolved != base and resolved.is_relative_to(base) else None


# --- validation ---------------------------------------------------------------------------


def _parse_day(name: str, value: Any) -> date:
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ExportError(
            VALIDATION, f"Filter {name} must be a date YYYY-MM-DD, got {value!r}"
        ) from None


def _filter_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ExportError(
            VALIDATION, f"Filter {name} must be a single text or integer value, got {value!r}"
        )
    return str(value)


def _flag(name: str, value: Any) -> bool:
    """An option such as include_pii: a JSON boolean, or true/false as text (the CLI's
    --filter include_pii=true)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ExportError(VALIDATION, f"Option {name} must be true or false, got {value!r}")


def _check_format(type_: Any) -> None:
    if type_ not in FORMATS:
        raise ExportError(VALIDATION, f"Unknown format {type_!r}: choose from csv, json")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(map(_has_nul, value))


def _check_storable(**fields: Any) -> None:
    """PostgreSQL text and jsonb cannot hold a NUL byte: name the field, not a DataError."""
    for name, value in fields.items():
        if _has_nul(value):
            raise ExportError(VALIDATION, f"{name} must not contain a NUL byte, got {value!r}")


def _range(dataset: Dataset, start: date, end: date) -> tuple[sql.Composable, list[Any]]:
    """The days [from, to] as a half-open window on the date column: whole days for a
    `date` column, UTC instants [from 00:00, to + 1 day 00:00) for a timestamp."""
    column = sql.Identifier(dataset.date_column)
    condition = sql.SQL("{} >= %s and {} < %s").format(column, column)
    after = end + timedelta(days=1)
    if dataset.date_is_day:
        return condition, [start, after]
    return condition, [datetime.combine(start, dtime(), UTC), datetime.combine(after, dtime(), UTC)]


def plan(
    dataset_name: str, filters: dict[str, Any], *, max_range_days: int = MAX_RANGE_DAYS
) -> Plan:
    """Check a request's dataset and filters (no database); raise ExportError otherwise."""
    dataset = DATASETS.get(dataset_name)
    if dataset is None:
        raise ExportError(
            VALIDATION,
            f"Unknown dataset {dataset_name!r}: choose from {', '.join(DATASETS)}",
        )
    if not isinstance(filters, dict):
        raise ExportError(VALIDATION, f"Filters must be a JSON object, got {filters!r}")
    unknown = [name for name in filters if name not in dataset.allowed_filters]
    if unknown:
        raise ExportError(
            VALIDATION,
            f"Unknown filter {', '.join(map(repr, unknown))} for dataset {dataset.name}: "
            f"allowed are {', '.join(dataset.allowed_filters)}",
        )
    nulls = sorted(name for name, value in filters.items() if value is None)
    if nulls:  # a null used to be skipped silently: the whole dataset was exported
        raise ExportError(
            VALIDATION,
            f"Filter{'s' if len(nulls) > 1 else ''} {', '.join(nulls)} must not be null: "
            "give it a value or leave it out",
        )
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    given = [name for name in RANGE_FILTERS if name in filters]
    if given or dataset.range_required:
        if len(given) < 2:
            raise ExportError(VALIDATION, "from and to date parameters are required")
        start, end = _parse_day("from", filters["from"]), _parse_day("to", filters["to"])
        if end < start:
            raise ExportError(VALIDATION, f"from ({start}) is after to ({end})")
        days = (end - start).days + 1  # both days included
        if days > max_range_days:
            raise ExportError(
                BUSINESS_RULE,
                f"Date range cannot exceed {max_range_days} days ({start} … {end} is {days})",
            )
        condition, bounds = _range(dataset, start, end)
        conditions.append(condition)
        params += bounds
    for name, column in dataset.filters.items():
        if name in filters:
            # compared as text: any value is a plain value (no cast error, no effect)
            conditions.append(sql.SQL("{}::text = %s").format(sql.Identifier(column)))
            params.append(_filter_value(name, filters[name]))
    where = sql.SQL(" and ").join(conditions) if conditions else sql.SQL("true")
    pii = "include_pii" in dataset.options and _flag(
        "include_pii", filters.get("include_pii", False)
    )
    return Plan(dataset, where, params, dataset.pii_relation if pii else dataset.relation)


def check_request(request: dict, *, max_range_days: int = MAX_RANGE_DAYS) -> Plan:
    """All of a stored request that needs no database: id, format, dataset, filters (the
    sensor screens rows inserted by hand with it before it launches any)."""
    check_id(request["id"])
    _check_format(request["type"])
    return plan(request["dataset"], request["filters"], max_range_days=max_range_days)


def estimate(conn: psycopg.Connection, p: Plan, *, max_rows: int = MAX_ROWS) -> int:
    """count(*) with the request's filters; over `max_rows` is a business-rule error."""
    rows = conn.execute(p.count(), p.params).fetchone()[0]
    if rows > max_rows:
        raise ExportError(
            BUSINESS_RULE,
            f"Export of {p.dataset.name} would have {rows:,} rows; the limit is "
            f"{max_rows:,} rows per export (narrow the date range or add filters)",
        )
    return rows


# --- the requests table ---------------------------------------------------------------------


def create_request(
    conn: psycopg.Connection,
    dataset: str,
    type_: str = "csv",
    filters: dict[str, Any] | None = None,
    requested_by: str | None = None,
    *,
    max_rows: int = MAX_ROWS,
) -> dict:
    """Insert a `preparing` request and validate it at once (seed 002's create_export
    answers with estimated_rows): an invalid one is stored `failed` with the reason, so
    the sensor never launches it. Commits; returns the row."""
    _check_format(type_)
    _check_storable(dataset=dataset, requested_by=requested_by, filters=filters)
    ensure_tables(conn)
    request_id = new_id()
    conn.execute(
        "insert into ops.export_requests (id, requested_by, type, dataset, filters) "
        "values (%s, coalesce(%s, current_user), %s, %s, %s)",
        [request_id, requested_by, type_, dataset, Jsonb(filters or {})],
    )
    conn.commit()
    try:
        estimated = estimate(conn, plan(dataset, filters or {}), max_rows=max_rows)
    except ExportError as exc:
        conn.rollback()
        _fail(conn, request_id, exc.code, exc.message)
    else:
        conn.execute(
            "update ops.export_requests set estimated_rows = %s where id = %s",
            [estimated, request_id],
        )
        conn.commit()
    return get_request(conn, request_id)


def get_request(conn: psycopg.Connection, request_id: str) -> dict | None:
    """The request with this id (None: there is none); an id that is no ULID is an
    ExportError, as no request can have it."""
    return _row(conn, check_id(request_id))


def _row(conn: psycopg.Connection, request_id: str) -> dict | None:
    with _dict_cursor(conn) as cur:
        row = cur.execute(
            sql.SQL("select {} from ops.export_requests where id = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
            ),
            [request_id],
        ).fetchone()
    conn.commit()
    return row


def list_requests(
    conn: psycopg.Connection, *, status: str | None = None, limit: int = 50
) -> list[dict]:
    ensure_tables(conn)
    with _dict_cursor(conn) as cur:
        rows = cur.execute(
            sql.SQL(
                "select {} from ops.export_requests where %(status)s::text is null "
                "or status = %(status)s order by created_at desc, id desc limit %(limit)s"
            ).format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS))),
            {"status": status, "limit": limit},
        ).fetchall()
    conn.commit()
    return rows


def preparing_ids(conn: psycopg.Connection, limit: int = 100) -> list[tuple[str, str, str]]:
    """(id, dataset, type) of the oldest `preparing` requests."""
    ensure_tables(conn)
    rows = conn.execute(
        "select id, dataset, type from ops.export_requests where status = 'preparing' "
        "order by created_at, id limit %s",
        [limit],
    ).fetchall()
    conn.commit()
    return rows


Problem = tuple[str, str, str]  # (request id, error code, message)


def screen_preparing(
    conn: psycopg.Connection, limit: int = 100
) -> tuple[list[tuple[str, str, str]], list[Problem]]:
    """The oldest `preparing` requests split by check_request: (id, dataset, type) of those
    to launch, and the problems of the others, failed here in one statement. A row
    inserted by hand with a bad id, dataset, format, range or filter never reaches a run
    and never holds up the requests behind it."""
    ensure_tables(conn)
    with _dict_cursor(conn) as cur:
        rows = cur.execute(
            "select id, type, dataset, filters from ops.export_requests "
            "where status = 'preparing' order by created_at, id limit %s",
            [limit],
        ).fetchall()
    problems = [(row["id"], *problem) for row in rows if (problem := _problem(row))]
    rejected = {request_id for request_id, _, _ in problems}
    _fail_all(conn, problems)
    launch = [(r["id"], r["dataset"], r["type"]) for r in rows if r["id"] not in rejected]
    return launch, problems


def _problem(request: dict) -> tuple[str, str] | None:
    try:
        check_request(request)
    except ExportError as exc:
        return exc.code, exc.message
    except Exception as exc:  # a value no rule foresaw: fail that row, not every tick
        return EXPORT_ERROR, f"The request cannot be checked: {type(exc).__name__}: {exc}"
    return None


def _fail(conn: psycopg.Connection, request_id: str, code: str, message: str) -> None:
    _fail_all(conn, [(request_id, code, message)])


def _fail_all(conn: psycopg.Connection, problems: list[Problem]) -> None:
    """Mark `preparing` requests failed with their reasons: one statement for any number."""
    if problems:
        ids, codes, messages = (list(column) for column in zip(*problems, strict=True))
        conn.execute(
            "update ops.export_requests as r set status = 'failed', error_code = f.code, "
            "error_message = f.message, completed_at = now() "
            "from unnest(%s::text[], %s::text[], %s::text[]) as f (id, code, message) "
            "where r.id = f.id and r.status = 'preparing'",
            [ids, codes, messages],
        )
    conn.commit()


# --- writing --------------------------------------------------------------------------------


def _write_csv(conn: psycopg.Connection, p: Plan, out) -> int:
    """COPY … TO STDOUT (csv, header), block by block. COPY takes no server-side
    parameters: psycopg binds them client-side, quoted as literals."""
    statement = sql.SQL("copy ({}) to stdout with (format csv, header)").format(
        p.select(as_text=True)
    )
    with conn.cursor() as cur:
        with cur.copy(statement, p.params) as copy:
            for block in copy:
                out.write(block)
        return cur.rowcount


def _write_json(conn: psycopg.Connection, p: Plan, out) -> int:
    """A JSON array, one object per row (column order kept), fetched in batches from a
    server-side cursor: memory does not grow with the row count."""
    query = sql.SQL("select row_to_json(t)::text from ({}) as t").format(p.select())
    rows = 0
    with conn.cursor(name=f"export_{secrets.token_hex(4)}") as cur:
        cur.itersize = JSON_FETCH_ROWS
        cur.execute(query, p.params)
        for (row,) in cur:
            out.write(b",\n" if rows else b"[\n")
            out.write(row.encode())
            rows += 1
    out.write(b"\n]\n" if rows else b"[]\n")
    return rows


def write_file(conn: psycopg.Connection, p: Plan, type_: str, path: Path) -> int:
    """Stream the rows into `path` (through a temporary name); return the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        conn.execute("set local timezone = 'UTC'")  # timestamps in the file are UTC
        with open(partial, "xb") as out:  # "x": never through a link planted at the name
            rows = (_write_csv if type_ == "csv" else _write_json)(conn, p, out)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        conn.rollback()  # read only: end the snapshot (and the `set local`)
    return rows


def _file_path(p: Plan, type_: str, request_id: str, directory: Path | None) -> Path:
    """`<dataset>_<stamp>_<id>.<type>` in the exports directory. Each part is checked here
    again, and the resolved path must still lie in the directory: whatever a caller
    missed, no file is written anywhere else."""
    check_id(request_id)
    _check_format(type_)
    name = p.dataset.name
    if _has_nul(name) or any(part in name for part in ("/", "\\", "..")):
        raise ExportError(
            VALIDATION, f"Dataset name {name!r} must not contain '/', '\\', '..' or a NUL byte"
        )
    folder = directory or exports_dir()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    path = folder / f"{name}_{stamp}_{request_id}.{type_}"
    inside = resolve_inside(folder, path)
    if inside is None:
        raise ExportError(
            VALIDATION,
            f"Export file {str(path)!r} is outside the exports directory {str(folder)!r}: "
            "files are written only there",
        )
    return inside


def run_export(
    conn: psycopg.Connection,
    request_id: str,
    *,
    directory: Path | None = None,
    max_rows: int = MAX_ROWS,
    max_range_days: int = MAX_RANGE_DAYS,
    expiry_hours: int = EXPIRY_HOURS,
) -> dict | None:
    """Validate and write one request; return its row (ready or failed; None when there
    is no such request).

    A request not `preparing` is returned as it is, so running one twice writes nothing
    the second time; an advisory lock keeps two processes off the same request. A
    validation failure (an id that is no ULID included) is stored on the row, not raised;
    an error while writing is stored and re-raised, so the Dagster run fails too.
    """
    ensure_tables(conn)
    lock = conn.execute(
        "select pg_try_advisory_lock(hashtext('analytics.export'), hashtext(%s))",
        [request_id],
    ).fetchone()[0]
    conn.commit()
    if not lock:
        return _wait_for(conn, request_id)
    try:
        request = _row(conn, request_id)
        if request is not None and request["status"] == "preparing":
            limits = {"max_rows": max_rows, "max_range_days": max_range_days}
            _write_request(conn, request, directory, expiry_hours, **limits)
        return _row(conn, request_id)
    finally:
        conn.rollback()
        conn.execute(
            "select pg_advisory_unlock(hashtext('analytics.export'), hashtext(%s))",
            [request_id],
        )
        conn.commit()


def _write_request(
    conn: psycopg.Connection,
    request: dict,
    directory: Path | None,
    expiry_hours: int,
    *,
    max_rows: int,
    max_range_days: int,
) -> None:
    """run_export's work on a `preparing` request it holds the lock of."""
    request_id = request["id"]
    try:
        p = check_request(request, max_range_days=max_range_days)
        estimated = estimate(conn, p, max_rows=max_rows)
        conn.execute(
            "update ops.export_requests set estimated_rows = %s where id = %s",
            [estimated, request_id],
        )
        conn.commit()
        path = _file_path(p, request["type"], request_id, directory)
        rows = write_file(conn, p, request["type"], path)
    except ExportError as exc:
        conn.rollback()
        _fail(conn, request_id, exc.code, exc.message)
        return
    except Exception as exc:  # the database, the disk: stored, and the run fails
        conn.rollback()
        _fail(conn, request_id, EXPORT_ERROR, f"{type(exc).__name__}: {exc}".strip())
        raise
    conn.execute(
        "update ops.export_requests set status = 'ready', actual_rows = %s, "
        "file_path = %s, completed_at = now(), "
        "expires_at = now() + make_interval(hours => %s) "
        "where id = %s and status = 'preparing'",
        [rows, str(path), expiry_hours, request_id],
    )
    conn.commit()


def export_now(
    conn: psycopg.Connection,
    dataset: str,
    type_: str,
    filters: dict[str, Any],
    requested_by: str,
    *,
    max_rows: int = MAX_ROWS,
    expiry_hours: int = EXPIRY_HOURS,
) -> dict:
    """Write an export in this process and record it as a finished (`ready`) request —
    for scheduled files (seed 003's ML dataset), which the export_request_sensor must not
    pick up as `preparing`. Raises ExportError for an invalid request."""
    _check_format(type_)
    _check_storable(dataset=dataset, requested_by=requested_by, filters=filters)
    ensure_tables(conn)
    p = plan(dataset, filters)
    estimated = estimate(conn, p, max_rows=max_rows)
    request_id = new_id()
    path = _file_path(p, type_, request_id, None)
    rows = write_file(conn, p, type_, path)
    conn.execute(
        "insert into ops.export_requests (id, requested_by, type, dataset, filters, status, "
        "estimated_rows, actual_rows, file_path, completed_at, expires_at) values "
        "(%s, %s, %s, %s, %s, 'ready', %s, %s, %s, now(), "
        "now() + make_interval(hours => %s))",
        [request_id, requested_by, type_, dataset, Jsonb(filters), estimated, rows, str(path),
         expiry_hours],
    )  # fmt: skip
    conn.commit()
    return get_request(conn, request_id)


def _wait_for(conn: psycopg.Connection, request_id: str, poll_s: float = 0.5) -> dict | None:
    """Another process is writing the request: wait until it is no longer preparing."""
    while True:
        request = _row(conn, request_id)
        if request is None or request["status"] != "preparing":
            return request
        time.sleep(poll_s)
