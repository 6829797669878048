"""A warehouse that fights back: a mart locked by another session while dbt builds it, and
a reader role that must not be able to do more than read.

The rule (docs/RELIABILITY.md): a lock held too long fails the build with the holder's
pid, query and how to end it — never a hang — the mart keeps its rows, and the next run
after the lock is gone builds it. The Metabase role reads marts and embed and nothing else.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from dagster import DagsterInstance

from dagster_project.demo import run_gift_refresh
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.ingest.warehouse_tables import ensure_tables
from dagster_project.resources import (
    WarehouseLoginFailed,
    WarehouseResource,
    WarehouseUnreachable,
)
from dagster_project.run_policies import is_transient
from dagster_project.settings import metabase_role
from dagster_project.simulate.wallet import simulate_wallet
from tests import gift_fixture
from tests.conftest import REPO_ROOT, run_dbt
from tests.integration.test_gift_marts import FUNNEL_SQL

MART = "fct_gift_funnel_daily"


def _mart(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(FUNNEL_SQL).fetchall()


def _failure_text(result) -> str:
    errors = [e.step_failure_data.error for e in result.all_events if e.is_step_failure]
    return "\n".join(e.message for e in errors if e)


def test_a_locked_mart_fails_naming_the_holder_and_the_next_run_builds(
    conn, redis_client, gift_prefix, warehouse_url, monkeypatch
):
    first = {k: v for k, v in gift_fixture.GIFTS.items() if k in ("g01", "g02", "g03")}
    gift_fixture.load(redis_client, gift_prefix, first)
    assert run_gift_refresh(DagsterInstance.ephemeral()).success
    before = _mart(warehouse_url)
    gift_fixture.load(redis_client, gift_prefix)  # every gift: the next build changes it

    monkeypatch.setenv("DBT_LOCK_TIMEOUT", "2s")
    with psycopg.connect(warehouse_url, application_name="someones-psql") as holder:
        holder.execute(f"lock table marts.{MART} in access share mode")
        locked = run_gift_refresh(DagsterInstance.ephemeral())
        pid = holder.info.backend_pid

    assert not locked.success
    message = _failure_text(locked)
    assert "canceling statement due to lock timeout" in message  # what happened
    assert f"marts.{MART} is locked by pid {pid}" in message  # who
    assert "application 'someones-psql', idle in transaction" in message
    assert f"lock table marts.{MART} in access share mode" in message  # what it runs
    assert f"select pg_terminate_backend({pid})" in message  # what to do
    assert _mart(warehouse_url) == before  # no half-built mart

    assert run_gift_refresh(DagsterInstance.ephemeral()).success  # the lock is gone
    assert _mart(warehouse_url) == gift_fixture.FUNNEL


def test_a_timeout_that_is_not_a_duration_is_refused_by_name(
    conn, redis_client, gift_prefix, monkeypatch
):
    monkeypatch.setenv("DBT_LOCK_TIMEOUT", "five minutes")
    result = run_gift_refresh(DagsterInstance.ephemeral())
    assert not result.success
    assert "DBT_LOCK_TIMEOUT='five minutes' is not a PostgreSQL duration" in _failure_text(result)


@pytest.fixture
def metabase(conn, warehouse_url):
    """A login session of the Metabase role, as Metabase opens one (role settings apply
    at login, not on SET ROLE), after a dbt run created and configured the role."""
    ensure_tables(conn)  # ops, quarantine and raw, as the first sync makes them
    run_dbt("seed", "--quiet", "--select", "mashups_event_types")  # runs on-run-start
    role, password = metabase_role(), secrets.token_hex(12)
    conn.execute(f"alter role {role} login password '{password}'")
    conn.commit()
    parts = urlsplit(warehouse_url)
    netloc = f"{role}:{password}@{parts.hostname}:{parts.port}"
    with psycopg.connect(urlunsplit(parts._replace(netloc=netloc)), autocommit=True) as session:
        yield session
    conn.execute(f"alter role {role} nologin password null")
    conn.commit()


def test_the_reader_role_has_timeouts_and_cannot_write_or_spy(metabase, warehouse_url):
    assert metabase.execute("show statement_timeout").fetchone() == ("2min",)
    assert metabase.execute("show idle_in_transaction_session_timeout").fetchone() == ("1min",)
    for statement in (
        "create temporary table scratch (x int)",
        "create table marts.scratch (x int)",
        "create table public.scratch (x int)",
        "create schema scratch",
        "select ops.new_ulid()",
        "select * from ops.export_requests",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            metabase.execute(statement)

    with psycopg.connect(warehouse_url, autocommit=True) as other:
        other.execute("select 'secret-marker', pg_sleep(0)")
        seen = metabase.execute(
            "select query from pg_stat_activity where pid = %s", [other.info.backend_pid]
        ).fetchone()
    assert seen == ("<insufficient privilege>",)


def test_a_warehouse_that_refuses_connections_is_named_and_retried():
    from tests.faults.conftest import free_port

    # given as the resource's url: setting WAREHOUSE_URL would also move dbt's variables
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/warehouse"
    with pytest.raises(WarehouseUnreachable) as refused:
        WarehouseResource(url=url).connect()
    assert f"the warehouse at {url} (WAREHOUSE_URL) cannot be reached" in str(refused.value)
    assert "Connection refused" in str(refused.value)
    assert is_transient(refused.value)  # the retry policy retries it


WINDOW_MART = "fct_token_daily"  # incremental, window_replace: delete + insert
WALLET_SRC = "wallet_src_same_window"
END = date(2026, 3, 10)


def _window_rows(conn) -> list[str]:
    rows = conn.execute(
        f"select (to_jsonb(t) - 'created_at' - 'updated_at')::text from marts.{WINDOW_MART} t "
        "order by 1"
    ).fetchall()
    conn.commit()
    return [r[0] for r in rows]


def test_the_same_partition_built_twice_at_once_is_built_once(conn, warehouse_url):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {WALLET_SRC} cascade")
        simulate_wallet(app, days=4, events_per_day=300, seed=7, end=END, schema=WALLET_SRC)
        app.commit()
        extract_load_system(app, warehouse_url, "wallet", schema=WALLET_SRC)
    run_dbt("run", "--quiet", "--select", f"+{WINDOW_MART}")
    once = _window_rows(conn)
    window = {"min_date": (END - timedelta(days=2)).isoformat(), "max_date": END.isoformat()}
    rebuild = ["run", "--quiet", "--select", WINDOW_MART, "--vars", json.dumps(window)]

    # the first build's delete holds the window's rows until it commits; the second's
    # delete, started meanwhile, must not miss the first's fresh rows
    with ThreadPoolExecutor(max_workers=2) as pool:
        builds = [pool.submit(run_dbt, *rebuild) for _ in range(2)]
        for build in builds:
            build.result(timeout=600)

    assert _window_rows(conn) == once  # every row once: nothing doubled, nothing lost


HOOKS = "compiled/product_analytics/dbt_project.yml/hooks"  # under dbt's target path


def test_two_runs_starting_at_once_both_pass_the_reader_role_hook(warehouse_url):
    """Two dbt runs whose on-run-start hooks overlap (two partitions started together) used
    to fail one of them with "tuple concurrently updated" from ALTER ROLE / GRANT."""
    run_dbt("seed", "--quiet", "--select", "mashups_event_types")  # writes the hook's SQL
    target = Path(os.environ.get("DBT_TARGET_PATH") or REPO_ROOT / "dbt_project/target")
    hook = (target / HOOKS / "product_analytics-on-run-start-0.sql").read_text()
    errors: list[str] = []

    def run_hook(start: threading.Barrier) -> None:
        with psycopg.connect(warehouse_url) as session:
            start.wait()
            try:
                session.execute(hook)
            except psycopg.Error as error:
                errors.append(str(error).strip())

    for _ in range(30):  # unlocked, 2 in 3 of these overlaps failed
        start = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run_hook, [start, start]))
    assert errors == []


def test_a_login_the_warehouse_refuses_is_named_and_not_retried(warehouse_url):
    parts = urlsplit(warehouse_url)
    url = urlunsplit(parts._replace(path="/no_such_database"))
    with pytest.raises(WarehouseLoginFailed) as refused:
        WarehouseResource(url=url).connect()
    assert "(WAREHOUSE_URL) cannot be reached" in str(refused.value)
    assert 'database "no_such_database" does not exist' in str(refused.value)
    assert not is_transient(refused.value)  # a retry would fail the same way
