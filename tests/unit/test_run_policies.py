"""Run policies: which failures are retried, the dbt failure message, pools and retry
policies on the assets that touch a source or the warehouse, single-run backfills."""

import socket

import psycopg
import pymysql
import pytest
import redis
import sqlalchemy.exc
from dagster import BackfillPolicy, Failure

from dagster_project.assets.dbt import daily_dbt_assets, warehouse_dbt_assets
from dagster_project.assets.exports import ml_responses_export
from dagster_project.assets.ingest_redis import gift_analytics
from dagster_project.definitions import defs
from dagster_project.exports.ops import write_export_file
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.run_policies import (
    DBT_POOL,
    REDIS_POOL,
    TRANSIENT_RETRY,
    all_pools,
    dbt_failure,
    failures_classified,
    is_transient,
)
from dagster_project.settings import SYSTEMS


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with ends: nothing listens


def _raised(exc: Exception, cause: Exception) -> Exception:
    try:
        raise exc from cause
    except Exception as e:
        return e


def test_a_refused_postgres_connection_is_transient():
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"postgresql://x@127.0.0.1:{_closed_port()}/x", connect_timeout=2)
    assert is_transient(refused.value)
    # SQLAlchemy (the source engines) wraps the driver's error: the chain is followed
    wrapped = sqlalchemy.exc.OperationalError("select 1", {}, refused.value)
    assert is_transient(_raised(wrapped, refused.value))


def test_a_refused_redis_connection_is_transient():
    with pytest.raises(redis.ConnectionError) as refused:
        redis.Redis(port=_closed_port(), socket_connect_timeout=2).ping()
    assert is_transient(refused.value)


def test_a_refused_mysql_connection_is_transient():
    with pytest.raises(pymysql.err.OperationalError) as refused:
        pymysql.connect(host="127.0.0.1", port=_closed_port(), connect_timeout=2)
    assert refused.value.args[0] == 2003
    assert is_transient(refused.value)


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        # the server went away / restarted mid-query: PyMySQL's words for it
        (pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query"), True),
        (pymysql.err.OperationalError(2006, "MySQL server has gone away"), True),
        (pymysql.err.OperationalError(1927, "Connection was killed"), True),
        (pymysql.err.InterfaceError(0, ""), True),  # the socket was already closed
        # bad SQL or data: a retry repeats it
        (pymysql.err.ProgrammingError(1146, "Table 'wallet.purchases' doesn't exist"), False),
        (pymysql.err.OperationalError(1045, "Access denied for user 'app'@'10.0.0.1'"), False),
        (pymysql.err.DataError(1264, "Out of range value for column 'amount'"), False),
    ],
)
def test_mysql_errors_are_classified_by_their_code(exc, transient):
    assert is_transient(exc) is transient


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionResetError("Connection reset by peer"),
        ConnectionRefusedError(111, "Connection refused"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.OperationalError(
            "consuming input failed: server closed the connection unexpectedly"
        ),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
    ],
    ids=["reset", "refused", "admin_shutdown", "server_closed", "deadlock", "serialization"],
)
def test_lost_connections_and_deadlocks_are_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"),
        psycopg.errors.NotNullViolation("null value in column"),
        psycopg.errors.InvalidTextRepresentation("invalid input syntax for type integer"),
        psycopg.errors.DivisionByZero("division by zero"),
        ValueError("gift g01: status 'lost' is not one of created, viewed, claimed"),
        KeyError("campaign_id"),
        Failure("dbt test failed", allow_retries=False),
    ],
    ids=["unique", "not_null", "bad_text", "div0", "validation", "key", "failure"],
)
def test_bad_data_and_bugs_are_not_transient(exc):
    assert not is_transient(exc)


def test_failures_classified_lets_transient_errors_through_for_the_retry_policy():
    with pytest.raises(ConnectionResetError), failures_classified("sync of wallet.users"):
        raise ConnectionResetError("Connection reset by peer")


def test_failures_classified_stops_retries_of_bad_data_and_names_what_failed():
    with pytest.raises(Failure) as failed, failures_classified("sync of wallet.users"):
        raise psycopg.errors.UniqueViolation("duplicate key value violates unique constraint")
    assert not failed.value.allow_retries
    assert "sync of wallet.users failed" in failed.value.description
    assert "UniqueViolation: duplicate key value" in failed.value.description


@pytest.mark.parametrize(
    "exc",
    [
        # a real full disk: ENOSPC, SQLSTATE 53100
        psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device'),
        # EFBIG or a failed fallocate (a file-size limit): SQLSTATE XX000, the same hint
        psycopg.errors.InternalError_(
            'could not extend file "base/5/16384" with FileFallocate(): File too large\n'
            "HINT:  Check free disk space."
        ),
        psycopg.errors.InternalError_(
            'could not write to file "base/pgsql_tmp/pgsql_tmp31875.0": No space left on device'
        ),
    ],
)
def test_a_full_warehouse_disk_is_named_with_what_to_do_and_not_retried(exc):
    wrapped = _raised(sqlalchemy.exc.InternalError("COPY", {}, exc), exc)
    assert not is_transient(wrapped)  # a retry seconds later meets the same full disk
    with pytest.raises(Failure) as failed, failures_classified("sync of wallet.users"):
        raise wrapped
    assert not failed.value.allow_retries
    description = failed.value.description
    assert description.startswith("sync of wallet.users failed: the warehouse is out of disk")
    assert "Free space on the PostgreSQL server's disk" in description
    assert str(exc).splitlines()[0] in description  # PostgreSQL's own words


def test_dbt_failure_of_a_full_disk_says_so_and_is_not_retried():
    message = (
        "Database Error in model fct_token_daily (models/marts/wallet/fct_token_daily.sql)\n"
        '  could not write to file "base/pgsql_tmp/pgsql_tmp3265.0": No space left on device'
    )
    results = {"results": [_result("model.p.fct_token_daily", "error", message)]}
    failure = dbt_failure(results)
    assert not failure.allow_retries
    assert failure.description.startswith("dbt failed: the warehouse is out of disk space")
    assert "model fct_token_daily: error" in failure.description


MANIFEST = {
    "nodes": {
        "model.product_analytics.fct_gift_funnel_daily": {"name": "fct_gift_funnel_daily"},
        "test.product_analytics.not_null_fct_gift_funnel_daily_date.a1b2": {
            "name": "not_null_fct_gift_funnel_daily_date",
            "attached_node": "model.product_analytics.fct_gift_funnel_daily",
        },
    }
}


def _result(unique_id: str, status: str, message: str, **extra) -> dict:
    return {"unique_id": unique_id, "status": status, "message": message, **extra}


def test_dbt_failure_names_the_test_its_model_and_the_failing_rows():
    results = {
        "results": [
            _result("model.product_analytics.stg_cryptogift__gifts", "success", "SELECT 13"),
            _result(
                "test.product_analytics.not_null_fct_gift_funnel_daily_date.a1b2",
                "fail",
                "Got 3 results, configured to fail if != 0",
                failures=3,
            ),
        ]
    }
    failure = dbt_failure(results, MANIFEST)
    assert not failure.allow_retries  # bad data: the same rows fail again
    assert (
        "test not_null_fct_gift_funnel_daily_date on model fct_gift_funnel_daily: fail, "
        "3 failing row(s)" in failure.description
    )
    assert "stg_cryptogift__gifts" not in failure.description  # it succeeded


def test_dbt_failure_of_a_killed_connection_is_retried_and_names_the_model():
    message = (
        "Database Error in model fct_gift_funnel_daily (models/marts/gifts/"
        "fct_gift_funnel_daily.sql)\n  terminating connection due to administrator command\n"
        "  server closed the connection unexpectedly"
    )
    results = {
        "results": [
            _result(
                "model.product_analytics.fct_gift_funnel_daily",
                "error",
                message,
                relation_name='"warehouse"."marts"."fct_gift_funnel_daily"',
            ),
            _result("model.product_analytics.gift_funnel_public", "skipped", None),
        ]
    }
    failure = dbt_failure(results, MANIFEST)
    assert failure.allow_retries
    assert "model fct_gift_funnel_daily: error" in failure.description
    assert '"marts"."fct_gift_funnel_daily"' in failure.description
    assert "terminating connection due to administrator command" in failure.description


def test_dbt_failure_mixing_a_lost_connection_with_a_sql_error_is_not_retried():
    results = {
        "results": [
            _result("model.p.a", "error", "server closed the connection unexpectedly"),
            _result("model.p.b", "error", 'column "x" does not exist'),
        ]
    }
    assert not dbt_failure(results).allow_retries


def test_dbt_failure_before_any_node_ran_uses_dbt_s_error():
    failure = dbt_failure(None, fallback="connection to server at 127.0.0.1 failed: refused")
    assert failure.allow_retries
    assert "connection to server at 127.0.0.1 failed" in failure.description


def test_every_source_sync_has_its_source_pool_and_the_retry_policy():
    for spec in SOURCE_TABLES:
        sync = defs.resolve_assets_def(spec.asset_key)
        assert sync.op.pool == f"source_{spec.system}", spec.asset_key
        assert sync.op.retry_policy == TRANSIENT_RETRY
    assert gift_analytics.op.pool == REDIS_POOL == "source_cryptogift_redis"
    assert gift_analytics.op.retry_policy == TRANSIENT_RETRY


def test_dbt_and_exports_have_pools_and_retry_policies():
    for dbt_assets in (warehouse_dbt_assets, daily_dbt_assets):
        assert dbt_assets.op.pool == DBT_POOL
        assert dbt_assets.op.retry_policy == TRANSIENT_RETRY
    assert write_export_file.retry_policy == TRANSIENT_RETRY
    assert ml_responses_export.op.retry_policy == TRANSIENT_RETRY


def test_every_declared_pool_is_used_and_every_system_has_one():
    assets_defs = defs.resolve_asset_graph().assets_defs
    used = {getattr(a.node_def, "pool", None) for a in assets_defs if a.is_executable}
    assert set(all_pools()) == used - {None}
    assert {f"source_{system}" for system in SYSTEMS} <= used


def test_partitioned_assets_backfill_a_range_in_one_run():
    graph = defs.resolve_asset_graph()
    partitioned = [node for node in graph.asset_nodes if node.partitions_def is not None]
    assert len(partitioned) > 10  # the daily marts
    for node in partitioned:
        assert node.backfill_policy == BackfillPolicy.single_run(), node.key
    daily_marts = defs.resolve_job_def("daily_marts")
    assert daily_marts.partitions_def is not None  # a range backfill launches one run
