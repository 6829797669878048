"""The shared extract-load: app database → raw, incremental by cursor, with overlap."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SourceTable

SPEC = SourceTable("apptest", "events", ("id",), "updated_at", timedelta(minutes=30), "app_test")


@pytest.fixture
def app(fresh_warehouse):
    """An app database: schema app_test in the test database, seen through SQLAlchemy."""
    with psycopg.connect(fresh_warehouse, autocommit=True) as db:
        db.execute("drop schema if exists app_test cascade; create schema app_test")
        db.execute("""create table app_test.events (
            id bigint primary key, name text, props jsonb, amount numeric(12, 2),
            updated_at timestamptz not null)""")
        db.execute("""insert into app_test.events
            select i, 'e' || i, jsonb_build_object('n', i), i * 1.5,
                   now() - interval '1 day' + i * interval '1 minute'
            from generate_series(1, 5) i""")
        yield db
    source_engine(fresh_warehouse).dispose()


def _load(conn, url, **kwargs):
    return extract_load(conn, source_engine(url), SPEC, **kwargs)


def _raw(conn) -> list[tuple]:
    return conn.execute(
        "select id, name, props, amount, updated_at from raw.apptest__events order by id"
    ).fetchall()


def _app(app) -> list[tuple]:
    return app.execute(
        "select id, name, props, amount, updated_at from app_test.events order by id"
    ).fetchall()


def test_first_load_copies_the_table_and_stores_the_cursor(app, conn, warehouse_url):
    result = _load(conn, warehouse_url, chunk_rows=2)
    assert result.rows == 5 and result.cursor_before is None
    assert _raw(conn) == _app(app)
    newest = app.execute("select max(updated_at) from app_test.events").fetchone()[0]
    stored = conn.execute(
        "select last_cursor, status from ops.sync_state where id = 'el:apptest__events'"
    ).fetchone()
    assert stored == (newest.isoformat(), "idle") == (result.cursor_after, "idle")


def test_updates_inserts_and_late_commits_within_the_overlap_arrive(app, conn, warehouse_url):
    _load(conn, warehouse_url)
    app.execute("update app_test.events set name = 'renamed', updated_at = now() where id = 1")
    app.execute("insert into app_test.events values (6, 'e6', '{}', 9, now())")
    second = _load(conn, warehouse_url)
    # a row that committed late, stamped 10 minutes before the stored cursor
    app.execute(
        "insert into app_test.events values (7, 'late', '{}', 1, %s)",
        [_minus(second.cursor_after, minutes=10)],
    )
    third = _load(conn, warehouse_url)

    assert _raw(conn) == _app(app)
    assert third.rows >= 1 and third.cursor_after == second.cursor_after  # never backwards
    assert conn.execute("select count(*) from raw.apptest__events").fetchone()[0] == 7


def _minus(iso: str, minutes: int):
    from datetime import datetime

    return datetime.fromisoformat(iso) - timedelta(minutes=minutes)


def test_a_column_added_to_the_source_arrives_without_ddl(app, conn, warehouse_url):
    _load(conn, warehouse_url)
    app.execute("alter table app_test.events add column country text")
    app.execute("update app_test.events set country = 'AR', updated_at = now() where id = 2")
    result = _load(conn, warehouse_url)
    assert result.added_columns == ["country"]
    assert conn.execute(
        "select id, country from raw.apptest__events where country is not null"
    ).fetchall() == [(2, "AR")]


def test_a_row_stamped_in_the_future_does_not_push_the_cursor_past_now(app, conn, warehouse_url):
    app.execute(
        "insert into app_test.events values (8, 'clock', '{}', 1, now() + interval '9 days')"
    )
    result = _load(conn, warehouse_url)
    now = conn.execute("select now()").fetchone()[0]
    assert result.rows == 6
    assert _minus(result.cursor_after, minutes=0) <= now


def test_a_missing_source_table_is_named_with_its_url_variable(app, conn, warehouse_url):
    spec = SourceTable("apptest", "nope", ("id",), "updated_at", schema="app_test")
    with pytest.raises(LookupError, match="table 'nope' not found in SOURCE_APPTEST_URL"):
        extract_load(conn, source_engine(warehouse_url), spec)


def test_a_declared_table_is_a_dagster_asset_reporting_rows_and_cursor(
    app, conn, warehouse_url, monkeypatch
):
    from dagster import AssetKey, materialize

    from dagster_project.assets.ingest_sources import source_table_asset
    from dagster_project.resources import WarehouseResource

    monkeypatch.setenv(SPEC.url_env, warehouse_url)
    result = materialize([source_table_asset(SPEC)], resources={"warehouse": WarehouseResource()})
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.materialization.asset_key == AssetKey(["raw", "apptest__events"])
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["rows_landed"] == 5 and metadata["cursor"]
    assert _raw(conn) == _app(app)


def test_any_sqlalchemy_source_streams_through_the_generic_path(conn, tmp_path):
    """SQLite stands in for a non-PostgreSQL app database (rows stream through Python)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as db:
        db.execute(sa.text("create table orders (id integer primary key, item text, seq integer)"))
        db.execute(
            sa.text("insert into orders values (:id, :item, :seq)"),
            [{"id": i, "item": f"item {i}", "seq": i * 10} for i in range(1, 8)],
        )
    spec = SourceTable("sqlitetest", "orders", ("id",), "seq", overlap=15)
    first = extract_load(conn, engine, spec, chunk_rows=3)
    with engine.begin() as db:
        db.execute(sa.text("insert into orders values (8, 'late', 65), (9, 'new', 90)"))
    second = extract_load(conn, engine, spec, chunk_rows=3)

    assert (first.rows, first.cursor_after) == (7, "70")
    assert second.cursor_after == "90" and second.rows == 4  # seq >= 55: 60, 65, 70, 90
    landed = conn.execute("select id, item, seq from raw.sqlitetest__orders order by id")
    assert [r[0] for r in landed] == list(range(1, 10))
