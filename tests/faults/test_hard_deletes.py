"""Rows hard-deleted in an app database: the next load's key comparison marks them in raw
(`_deleted_at`, nothing is dropped there), staging and the marts lose them, and the
materialization counts them; a key that comes back is restored.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest
from dagster import AssetKey, DagsterInstance

from dagster_project.definitions import defs
from dagster_project.simulate.wallet import simulate_wallet
from tests.conftest import run_dbt

SRC = "wallet_src_deletes"
PURCHASES = AssetKey(["raw", "wallet__purchases"])


@pytest.fixture
def wallet(conn, warehouse_url, monkeypatch):
    with psycopg.connect(warehouse_url) as app:
        app.execute(f"drop schema if exists {SRC} cascade")
        simulate_wallet(app, days=3, events_per_day=300, seed=5, end=date(2026, 3, 10), schema=SRC)
    monkeypatch.setenv("SOURCE_WALLET_URL", f"{warehouse_url}?options=-csearch_path%3D{SRC}")
    app = psycopg.connect(warehouse_url, autocommit=True)
    yield app
    app.execute(f"drop schema if exists {SRC} cascade")
    app.close()


def _load() -> dict:
    """Materialize raw/wallet__purchases through Dagster; its metadata."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=[PURCHASES], instance=DagsterInstance.ephemeral()
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _mart_ids(conn) -> set[int]:
    run_dbt("build", "--quiet", "--select", "+fct_purchases")
    ids = {r[0] for r in conn.execute("select purchase_id from marts.fct_purchases")}
    conn.commit()  # an open read would hold the mart's lock against the next build
    return ids


def _source_ids(app) -> set[int]:
    return {r[0] for r in app.execute(f"select id from {SRC}.purchases")}


def test_a_purchase_deleted_at_the_source_leaves_the_marts_and_is_counted(wallet, conn):
    first = _load()
    assert first["rows_deleted_at_source"] == 0
    assert _mart_ids(conn) == _source_ids(wallet)

    gone = [r[0] for r in wallet.execute(f"select id from {SRC}.purchases order by id limit 3")]
    wallet.execute(f"delete from {SRC}.purchases where id = any(%s)", [gone])
    second = _load()

    assert (second["rows_deleted_at_source"], second["rows_restored_at_source"]) == (3, 0)
    assert _mart_ids(conn) == _source_ids(wallet)  # the three are gone from the mart
    marked = conn.execute(
        "select id from raw.wallet__purchases where _deleted_at is not null order by id"
    ).fetchall()
    conn.commit()
    assert [r[0] for r in marked] == gone  # raw keeps them, marked: nothing is lost
    assert _load()["rows_deleted_at_source"] == 0  # counted once, not on every load


def test_a_key_that_comes_back_is_restored(wallet, conn):
    _load()
    row = wallet.execute(f"select * from {SRC}.purchases order by id limit 1").fetchone()
    wallet.execute(f"delete from {SRC}.purchases where id = %s", [row[0]])
    assert _load()["rows_deleted_at_source"] == 1

    # re-inserted with its old updated_at: behind the load's cursor, only the key check sees it
    wallet.execute(f"insert into {SRC}.purchases values (%s, %s, %s, %s, %s, %s, %s, %s)", row)
    assert _load()["rows_restored_at_source"] == 1
    assert row[0] in _mart_ids(conn)
    assert _mart_ids(conn) == _source_ids(wallet)
