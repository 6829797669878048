"""A warehouse connection killed while dbt builds a mart: the step fails naming the model,
the mart keeps exactly its previous rows (no half-built table), and the retry policy's next
attempt, in the same run, builds it complete. The same for an incremental daily mart,
whose window_replace deletes and inserts in one transaction.

The kill is made deterministic with a lock: the test holds ACCESS SHARE on the mart in an
open transaction, so dbt — after building `<mart>__dbt_tmp`, before its swap commits —
waits on it; that waiting backend is the one terminated.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psycopg
from dagster import DagsterInstance

from dagster_project.demo import run_gift_refresh
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.simulate.wallet import simulate_wallet
from tests import gift_fixture
from tests.conftest import run_dbt
from tests.integration.test_gift_marts import FUNNEL_SQL

MART = "fct_gift_funnel_daily"
DBT_STEP = "warehouse_dbt_assets"


def _mart(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(FUNNEL_SQL).fetchall()


def _dbt_backend_waiting_on(url: str, table: str, timeout: float = 300) -> int:
    """The pid of dbt's session blocked on `table` (dbt's application_name, see profiles.yml)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                """select pid from pg_stat_activity
                   where datname = current_database() and application_name = 'analytics-dbt'
                     and wait_event_type = 'Lock' and query ilike %s""",
                [f"%{table}%"],
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.2)
    raise AssertionError(f"no dbt session waited on {table} within {timeout} s")


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("select pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(100):  # gone, and its transaction rolled back
            if not conn.execute("select 1 from pg_stat_activity where pid = %s", [pid]).fetchone():
                return
            time.sleep(0.1)
    raise AssertionError(f"backend {pid} still alive after pg_terminate_backend")


def _messages(error) -> str:
    """The error and its causes (the retry request wraps the step's Failure)."""
    text = error.message
    if error.cause:
        text += "\n" + _messages(error.cause)
    return text


def _step_events(result, step_key: str, event_type: str) -> list:
    return [
        e for e in result.all_events if e.step_key == step_key and e.event_type_value == event_type
    ]


def test_a_killed_dbt_connection_fails_the_step_cleanly_and_the_retry_completes_the_mart(
    conn, redis_client, gift_prefix, warehouse_url
):
    first_day = {k: v for k, v in gift_fixture.GIFTS.items() if k in ("g01", "g02", "g03")}
    gift_fixture.load(redis_client, gift_prefix, first_day)
    assert run_gift_refresh(DagsterInstance.ephemeral()).success
    before = _mart(warehouse_url)
    assert before and before != gift_fixture.FUNNEL

    gift_fixture.load(redis_client, gift_prefix)  # every gift: the next build changes the mart
    with (
        psycopg.connect(warehouse_url) as blocker,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        blocker.execute(f"lock table marts.{MART} in access share mode")
        run = pool.submit(run_gift_refresh, DagsterInstance.ephemeral())
        _terminate(warehouse_url, _dbt_backend_waiting_on(warehouse_url, MART))
        # what every reader sees now: exactly the previous rows, no leftover temp table
        # (the retry's own tables are uncommitted, so invisible, until it swaps)
        assert _mart(warehouse_url) == before
        with psycopg.connect(warehouse_url, autocommit=True) as reader:
            leftovers = reader.execute(
                "select relname from pg_class where relname like %s", [f"{MART}__dbt%"]
            ).fetchall()
        assert leftovers == []
        blocker.rollback()  # release the lock: the retry may swap
        result = run.result(timeout=900)

    failed_attempt = _step_events(result, DBT_STEP, "STEP_UP_FOR_RETRY")
    assert len(failed_attempt) == 1, "the kill fails one attempt, and it is retried"
    message = _messages(failed_attempt[0].event_specific_data.error)
    assert f"model {MART}: error" in message
    assert "lost its warehouse connection" in message
    assert "server closed the connection unexpectedly" in message  # dbt's own words
    assert result.success  # the retry of the same step, in the same run
    assert _step_events(result, DBT_STEP, "STEP_RESTARTED")
    assert _mart(warehouse_url) == gift_fixture.FUNNEL


WINDOW_MART = "fct_token_daily"  # incremental, window_replace: delete + insert
WALLET_SRC = "wallet_src_run_failures"
END = date(2026, 3, 10)


def _window_mart(url: str) -> set[str]:
    """The mart's rows (without the build timestamps), as comparable strings."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            f"select (to_jsonb(t) - 'created_at' - 'updated_at')::text from marts.{WINDOW_MART} t"
        ).fetchall()
    return {row[0] for row in rows}


def _land_wallet(url: str) -> None:
    with psycopg.connect(url) as conn:
        extract_load_system(conn, url, "wallet", schema=WALLET_SRC)


def test_a_killed_window_replace_leaves_the_daily_mart_whole(fresh_warehouse):
    url = fresh_warehouse
    with psycopg.connect(url) as app:
        app.execute(f"drop schema if exists {WALLET_SRC} cascade")
        simulate_wallet(app, days=4, events_per_day=300, seed=7, end=END, schema=WALLET_SRC)
        app.commit()
    _land_wallet(url)
    run_dbt("run", "--quiet", "--select", f"+{WINDOW_MART}")
    before = _window_mart(url)
    last_day = {"min_date": END.isoformat(), "max_date": (END + timedelta(days=1)).isoformat()}
    assert any(f'"date": "{END}"' in row for row in before)

    # the last day's ledger vanishes from raw: a rebuild of that day changes the mart
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from raw.wallet__wallet_ledger where occurred_at >= %s::date", [END])
    rebuild = ["run", "--select", WINDOW_MART, "--vars", json.dumps(last_day)]
    with psycopg.connect(url) as blocker, ThreadPoolExecutor(max_workers=1) as pool:
        # SHARE lets readers in but holds dbt's delete of the window, inside its transaction
        blocker.execute(f"lock table marts.{WINDOW_MART} in share mode")
        killed = pool.submit(run_dbt, *rebuild, check=False)
        _terminate(url, _dbt_backend_waiting_on(url, WINDOW_MART))
        assert _window_mart(url) == before  # neither the delete nor an insert survived
        blocker.rollback()
        failed = killed.result(timeout=600)
    assert failed.returncode != 0
    assert f"Database Error in model {WINDOW_MART}" in failed.stdout
    assert _window_mart(url) == before

    run_dbt(*rebuild)  # the retry
    after = _window_mart(url)
    assert after != before
    assert {r for r in after if f'"date": "{END}"' not in r} == {
        r for r in before if f'"date": "{END}"' not in r
    }  # only the window's day was replaced
