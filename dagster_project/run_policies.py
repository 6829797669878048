"""Run policies: which failures are retried, which steps share a concurrency pool, and the
messages a failed dbt build leaves.

Dagster's RetryPolicy retries on any exception. Only transient failures are worth a retry
(a connection refused, reset or terminated mid-query): the same bad data fails the same
way again. So every sync and dbt invocation runs inside `failures_classified()`, which
turns a non-transient exception into `Failure(allow_retries=False)`.
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster import Backoff, Failure, Jitter, RetryPolicy

# 3 retries after ~10 s, ~20 s, ~40 s (± 10 s of jitter, so runs that failed together
# do not all reconnect in the same second)
TRANSIENT_RETRY = RetryPolicy(
    max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

# Concurrency pools (limits live in the instance: dagster_project/dagster.yaml). One per
# app database, so two syncs never read the same source at once; one for the Redis gift
# sync; one for dbt, so two builds never rebuild the same marts concurrently.
SOURCE_POOL_PREFIX = "source_"
REDIS_POOL = "source_cryptogift_redis"
DBT_POOL = "dbt_warehouse"


def source_pool(system: str) -> str:
    return f"{SOURCE_POOL_PREFIX}{system}"


def all_pools() -> tuple[str, ...]:
    from dagster_project.settings import SYSTEMS

    return (*(source_pool(system) for system in SYSTEMS), REDIS_POOL, DBT_POOL)


# SQLSTATEs worth a retry: class 08 (connection exception), 57P01-57P03 (the server is
# shutting down, crashed, or not accepting connections yet), and 40001/40P01 (a
# serialization failure or deadlock, e.g. retention's deletes against an extract-load's
# upserts of the same raw table: PostgreSQL's advice is to run the transaction again).
_TRANSIENT_SQLSTATE = re.compile(r"^(08...|57P0[123]|40001|40P01)$")
_TRANSIENT_TEXT = re.compile(
    r"connection refused|connection reset|connection timed out|could not connect to server"
    r"|connection to server .* failed|server closed the connection unexpectedly"
    r"|terminating connection due to administrator command|the connection is (lost|closed)"
    r"|connection already closed|ssl syscall error: eof|broken pipe"
    r"|the database system is (starting up|shutting down|in recovery mode)",
    re.IGNORECASE,
)


# The server answered and refused this login: "connection to server … failed" too, but a
# retry fails the same way.
_LOGIN_REFUSED = re.compile(
    r"FATAL:\s+(password authentication failed|database \".*\" does not exist"
    r"|role \".*\" does not exist|no pg_hba\.conf entry)",
    re.IGNORECASE,
)


# The warehouse could not write: SQLSTATE 53100 (disk_full), or a failed extension of a
# table or temp file, which PostgreSQL reports as "could not extend file …" (XX000 when the
# error is EFBIG or a failed fallocate) with the hint "Check free disk space."
_DISK_FULL_SQLSTATE = "53100"
_DISK_FULL_TEXT = re.compile(
    r"could not extend file|no space left on device|check free disk space"
    r"|could not write to file .*(no space|file too large)",
    re.IGNORECASE,
)
DISK_FULL_ADVICE = (
    "the warehouse is out of disk space. The transaction that hit it rolled back, so "
    "nothing is half-written and nothing is lost (a sync's cursor did not move, a mart "
    "keeps its previous rows). Free space on the PostgreSQL server's disk (a bigger volume, "
    "or drop what you no longer need), then re-run: the retry writes the same rows once"
)


def is_disk_full_text(text: str) -> bool:
    """Does an error message (dbt's, a driver's) say the warehouse could not write?"""
    return bool(_DISK_FULL_TEXT.search(text or ""))


def is_disk_full(exc: BaseException) -> bool:
    """A full warehouse disk anywhere in the exception's chain. Not transient: a retry
    seconds later meets the same full disk."""
    for current in _chain(exc):
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        hint = getattr(getattr(current, "diag", None), "message_hint", None)
        if sqlstate == _DISK_FULL_SQLSTATE or is_disk_full_text(f"{current} {hint or ''}"):
            return True
    return False


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient_text(text: str) -> bool:
    """Does an error message (dbt's, a driver's) describe a lost connection?"""
    text = text or ""
    return bool(_TRANSIENT_TEXT.search(text)) and not _LOGIN_REFUSED.search(text)


def _is_transient_one(exc: BaseException) -> bool:
    # ConnectionRefusedError, ConnectionResetError, BrokenPipeError, ...
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    module = type(exc).__module__.split(".")[0]
    if module == "redis":
        import redis

        return isinstance(exc, redis.ConnectionError | redis.TimeoutError)
    if module == "pymysql":
        return _is_lost_mysql_connection(exc)
    if type(exc).__name__ == "OperationalError" or module in ("psycopg", "psycopg2"):
        # psycopg 3 (`sqlstate`) and psycopg2 (`pgcode`); a dropped connection has none
        sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if sqlstate:
            return bool(_TRANSIENT_SQLSTATE.match(sqlstate))
        return type(exc).__name__ == "OperationalError" and is_transient_text(str(exc))
    return False


# PyMySQL's client error codes for a connection that is gone: can't connect (2003), server
# gone away (2006), lost during a query (2013), lost reading the reply (2055), killed (1927),
# server shutting down (1053); and InterfaceError (0, '') from a socket already closed.
_MYSQL_LOST_CODES = frozenset({1053, 1927, 2003, 2006, 2013, 2055})


def _is_lost_mysql_connection(exc: BaseException) -> bool:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    if type(exc).__name__ == "InterfaceError":
        return code == 0
    return type(exc).__name__ == "OperationalError" and code in _MYSQL_LOST_CODES


def is_transient(exc: BaseException) -> bool:
    """A lost or refused connection anywhere in the exception's chain (SQLAlchemy wraps the
    driver's error), and nothing else: validation errors, constraint violations and
    failed dbt tests are bad data, which a retry would only repeat."""
    for current in _chain(exc):
        if isinstance(current, Failure):
            return current.allow_retries and is_transient_text(current.description or "")
        if _is_transient_one(current):
            return True
    return False


@contextmanager
def failures_classified(what: str) -> Iterator[None]:
    """Re-raise transient failures as they are (the RetryPolicy retries them); anything else
    becomes a Failure that is not retried, saying what failed."""
    try:
        yield
    except Failure:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise Failure(
                description=f"{what} failed: {DISK_FULL_ADVICE}.\n"
                f"PostgreSQL said: {type(exc).__name__}: {exc}",
                metadata={"cause": "warehouse disk full"},
                allow_retries=False,
            ) from exc
        if is_transient(exc):
            raise
        raise Failure(
            description=f"{what} failed (not retried: not a connection failure): "
            f"{type(exc).__name__}: {exc}",
            allow_retries=False,
        ) from exc


def _node_label(result: Mapping[str, Any], manifest: Mapping[str, Any] | None) -> str:
    """`model fct_x` / `test not_null_fct_x_date on model fct_x`."""
    unique_id = result.get("unique_id", "")
    kind, _, rest = unique_id.partition(".")
    name = rest.split(".", 1)[-1] if rest else unique_id
    node = (manifest or {}).get("nodes", {}).get(unique_id, {})
    label = f"{kind} {node.get('name', name)}"
    if kind == "test":
        attached = node.get("attached_node") or next(
            iter(node.get("depends_on", {}).get("nodes", [])), None
        )
        if attached:
            label += f" on {attached.split('.')[0]} {attached.split('.')[-1]}"
    return label


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def dbt_failure(
    run_results: Mapping[str, Any] | None,
    manifest: Mapping[str, Any] | None = None,
    fallback: str = "",
) -> Failure:
    """The Failure of a dbt invocation, from its run_results.json: one line per failed node
    (model, seed, snapshot, test and the model it tests), with dbt's message and, for a
    test, how many rows failed it. Retried only when every error is a lost connection."""
    failed = [
        r
        for r in (run_results or {}).get("results", [])
        if r.get("status") in ("error", "fail", "runtime error")
    ]
    lines = []
    for result in failed:
        line = f"{_node_label(result, manifest)}: {result['status']}"
        if result.get("status") == "fail" and result.get("failures") is not None:
            line += f", {result['failures']} failing row(s)"
        if result.get("relation_name"):
            line += f" (relation {result['relation_name']})"
        lines.append(f"{line} — {_one_line(result.get('message'))}")
    transient = bool(failed) and all(
        r.get("status") == "error" and is_transient_text(r.get("message") or "") for r in failed
    )
    if not failed:  # dbt stopped before running nodes (connection, compilation)
        lines.append(_one_line(fallback) or "dbt failed before running any node")
        transient = is_transient_text(fallback)
    disk_full = any(is_disk_full_text(r.get("message") or "") for r in failed) or (
        not failed and is_disk_full_text(fallback)
    )
    if disk_full:
        kind, transient = f"failed: {DISK_FULL_ADVICE}", False
    elif transient:
        kind = "lost its warehouse connection (transient: the retry policy retries it)"
    else:
        kind = "failed (not retried: bad data or a bug, a retry would fail the same way)"
    return Failure(
        description=f"dbt {kind}:\n" + "\n".join(lines),
        metadata={"failed_nodes": ", ".join(_node_label(r, manifest) for r in failed)},
        allow_retries=transient,
    )
