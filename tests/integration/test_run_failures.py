"""A warehouse connection killed while dbt builds a mart: the step fails naming the model,
the mart keeps exactly its previous rows (no half-built table), and the retry policy's next
attempt, in the same run, builds it complete. The same for an incremental daily mart,
whose window_replace deletes and inserts in one transaction.

The kills are made deterministic with locks: for the table mart the test holds ACCESS
SHARE on it in an open transaction, so dbt — after building `<mart>__dbt_tmp`, before its
swap commits — waits on it; for the daily mart a trigger makes dbt's insert wait on an
advisory lock the test holds, after its delete of the window ran. The waiting backend is
the one terminated.
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


def _dbt_backend_waiting_on(url: str, table: str, timeout: float = 300, doing: str = "") -> int:
    """The pid of dbt's session blocked on `table` (dbt's application_name, see profiles.yml),
    in a statement containing `doing` when given."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                """select pid from pg_stat_activity
                   where datname = current_database() and application_name = 'analytics-dbt'
                     and wait_event_type = 'Lock' and query ilike %s and query ilike %s""",
                [f"%{table}%", f"%{doing}%"],
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


HOLD_INSERTS = 4242  # advisory lock key: held by the test, awaited by the insert trigger


def _hold_inserts(conn: psycopg.Connection, table: str) -> None:
    conn.execute(f"""
        create or replace function public.wait_for_the_test() returns trigger
        language plpgsql as $$
        begin
            perform pg_advisory_lock({HOLD_INSERTS});
            perform pg_advisory_unlock({HOLD_INSERTS});
            return null;
        end $$""")
    conn.execute(f"""create trigger wait_for_the_test before insert on marts.{table}
                     for each statement execute function public.wait_for_the_test()""")
    conn.execute("select pg_advisory_lock(%s)", [HOLD_INSERTS])


def _release_inserts(conn: psycopg.Connection, table: str) -> None:
    conn.execute("select pg_advisory_unlock(%s)", [HOLD_INSERTS])
    conn.execute(f"drop trigger if exists wait_for_the_test on marts.{table}")
    conn.execute("drop function if exists public.wait_for_the_test()")


def _rows_of(url: str, day: date, *, unlocked_only: bool = False) -> int:
    """Rows of `day` in the window mart; with unlocked_only, those no open delete holds."""
    lock = "for update skip locked" if unlocked_only else ""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            f"select count(*) from (select 1 from marts.{WINDOW_MART} where date = %s {lock}) r",
            [day],
        ).fetchone()[0]


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
    with (
        psycopg.connect(url, autocommit=True) as blocker,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # dbt deletes the window, then inserts it; the insert waits in a trigger on a lock
        # the test holds, so the kill lands between the two statements
        _hold_inserts(blocker, WINDOW_MART)
        try:
            killed = pool.submit(run_dbt, *rebuild, check=False)
            pid = _dbt_backend_waiting_on(url, WINDOW_MART, doing="insert into")
            # the delete has run, uncommitted: the window's rows are still there, but locked
            assert _rows_of(url, END) > 0
            assert _rows_of(url, END, unlocked_only=True) == 0
            _terminate(url, pid)
        finally:
            _release_inserts(blocker, WINDOW_MART)
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
