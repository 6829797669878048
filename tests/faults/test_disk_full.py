"""The warehouse's disk fills up, once under a sync and once under a dbt build.

The rule (docs/RELIABILITY.md): the step fails saying the warehouse is out of disk space
and what to do, it is not retried (a retry seconds later meets the same full disk), the
transaction that hit it rolls back — no raw rows, no cursor move, the marts keep their
rows — and once there is room again the next run lands and builds every row exactly once.

The server is a private PostgreSQL whose files may not grow past FULL (see
tests/faults/conftest.py: PrivatePostgres); the app database lives on it too, so the
source can be read while the warehouse cannot write.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import psycopg
import pytest
from dagster import DagsterInstance, materialize
from dagster_dbt import DbtCliResource

from dagster_project.assets.ingest_sources import source_table_asset
from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.project import DBT_EXECUTABLE, dbt_project
from dagster_project.resources import WarehouseResource
from dagster_project.run_policies import dbt_failure
from dagster_project.settings import dbt_env_from_url
from dagster_project.simulate.wallet import simulate_wallet

# Larger than a 1 MB WAL segment, smaller than the ledger's raw table and the temp files
# of the marts' sorts; not a multiple of the 8 kB page, as a disk is not.
FULL = 1024 * 1024 + 3000
END = date(2025, 11, 4)
LEDGER = next(s for s in SOURCE_TABLES if (s.system, s.table) == ("wallet", "wallet_ledger"))
MARTS = ("fct_token_daily", "fct_token_user_daily", "dim_wallet_users", "fct_purchases")


@pytest.fixture
def server(private_postgres, monkeypatch):
    private_postgres.init(databases=("warehouse", "wallet"))
    with psycopg.connect(private_postgres.url("wallet")) as app:
        simulate_wallet(app, days=4, events_per_day=5_000, seed=13, end=END)
        app.commit()
    # dbt (a subprocess) and the asset read these; monkeypatch puts the old ones back
    monkeypatch.setenv(LEDGER.url_env, private_postgres.url("wallet"))
    monkeypatch.setenv("WAREHOUSE_URL", private_postgres.url())
    for name, value in dbt_env_from_url(private_postgres.url()).items():
        monkeypatch.setenv(name, value)
    return private_postgres


def _one(url: str, query: str):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchone()


def _sync_ledger(server):
    return materialize(
        [source_table_asset(LEDGER)],
        resources={"warehouse": WarehouseResource(url=server.url())},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _failure(result) -> str:
    """The step's one failure message; it was not put up for a retry."""
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    [error] = [e for e in result.all_events if e.is_step_failure]
    return error.step_failure_data.error.message


def _build():
    """dbt build of the wallet lineage, the way the dbt assets run it; its Failure or None."""
    window = {"min_date": "2025-10-01", "max_date": (END + timedelta(days=1)).isoformat()}
    dbt = DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
    invocation = dbt.cli(
        ["build", "--select", "source:wallet+", "--vars", json.dumps(window)],
        raise_on_error=False,
    )
    invocation.wait()
    if invocation.is_successful():
        return None
    return dbt_failure(invocation.get_artifact("run_results.json"), invocation.manifest)


# the ledger's totals straight from the staged entries, beside the mart's
LEDGER_TOTALS = """(select count(*) as entries,
       sum(amount) filter (where direction = 'credit') as credited,
       sum(amount) filter (where direction = 'debit') as debited
from staging.stg_wallet__wallet_ledger) as ledger"""


def _totals(url: str, relation: str) -> tuple:
    return _one(url, f"select sum(entries), sum(credited), sum(debited) from {relation}")


def _marts(url: str) -> dict[str, list]:
    """Each mart's rows, without the build times (created_at/updated_at) a rebuild moves."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set work_mem = '64MB'")  # this read's sort must not need the disk
        return {
            mart: conn.execute(
                f"select to_jsonb(m) - 'created_at' - 'updated_at' as mart_row from marts.{mart} m "
                "order by 1"
            ).fetchall()
            for mart in MARTS
        }


def test_a_full_disk_under_a_sync_lands_nothing_and_the_retry_lands_every_row_once(server):
    offered = _one(server.url("wallet"), "select count(*) from wallet_ledger")[0]

    server.restart(file_limit_bytes=FULL)
    full = _sync_ledger(server)

    assert not full.success
    message = _failure(full)
    assert "sync of wallet.wallet_ledger failed: the warehouse is out of disk space" in message
    assert "could not extend file" in message  # PostgreSQL's own words
    assert "Free space on the PostgreSQL server's disk" in message  # what to do
    assert "the retry writes the same rows once" in message
    landed = _one(server.url(), "select to_regclass('raw.wallet__wallet_ledger')")[0]
    assert landed is None  # the transaction that created and filled it rolled back
    status, cursor, error = _one(
        server.url(),
        f"select status, last_cursor, error_message from ops.sync_state "
        f"where id = '{LEDGER.sync_id}'",
    )
    assert (status, cursor) == ("error", None)  # the cursor did not move
    assert "could not extend file" in error

    server.restart()  # room again
    retry = _sync_ledger(server)

    assert retry.success
    [event] = retry.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["rows_landed"] + metadata["rows_quarantined"] == offered
    assert _one(
        server.url(), "select count(*), count(distinct id) from raw.wallet__wallet_ledger"
    ) == (metadata["rows_landed"], metadata["rows_landed"])


def test_a_full_disk_under_a_build_keeps_the_marts_and_the_next_build_is_whole(server):
    with psycopg.connect(server.url()) as conn:
        extract_load_system(conn, server.url("wallet"), "wallet")
    assert _build() is None
    built = _marts(server.url())
    assert _totals(server.url(), "marts.fct_token_daily") == _totals(server.url(), LEDGER_TOTALS)

    server.restart(file_limit_bytes=FULL)
    failure = _build()

    assert failure is not None
    assert failure.description.startswith("dbt failed: the warehouse is out of disk space")
    # PostgreSQL's words, for the table or the sort's temp file that could not grow, and
    # the model that hit it
    assert re.search(r"model \w+: error .*could not (extend|write to) file", failure.description)
    assert "Free space on the PostgreSQL server's disk" in failure.description
    assert not failure.allow_retries  # the same full disk would fail the retry
    assert _marts(server.url()) == built  # each failed model rolled back

    server.restart()
    assert _build() is None
    assert _marts(server.url()) == built  # nothing lost, nothing doubled
    assert _totals(server.url(), "marts.fct_token_daily") == _totals(server.url(), LEDGER_TOTALS)
