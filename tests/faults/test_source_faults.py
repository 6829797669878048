"""Hostile app-database rows: values nobody planned for, and tables that change or vanish.

The rule (docs/RELIABILITY.md): every row offered is either landed in raw or quarantined in
quarantine.source_rows with a reason naming the value and the rule; no row blocks the
others; the next run is green and lands what is new. The app tables are the simulators'
(the seeds' columns), in a schema of the test database, read through the real extract-load.
"""

from __future__ import annotations

import resource
from dataclasses import replace

import psycopg
import pytest

from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.simulate import everreach, wallet, yesgoddess

SCHEMA = "fault_app"
SPECS = {(s.system, s.table): replace(s, schema=SCHEMA) for s in SOURCE_TABLES}
PURCHASES = SPECS["wallet", "purchases"]
EVENTS = SPECS["yesgoddess", "events"]
PROMPTS = SPECS["everreach", "prompts"]
TWO_HOURS_AGO = "now() - interval '2 hours'"


@pytest.fixture
def app(fresh_warehouse):
    """The wallet, YesGoddess and EverReach app tables, empty, in schema fault_app."""
    with psycopg.connect(fresh_warehouse, autocommit=True) as db:
        db.execute(f"drop schema if exists {SCHEMA} cascade")
        wallet.create_tables(db, schema=SCHEMA)
        yesgoddess.create_tables(db, schema=SCHEMA)
        everreach.create_tables(db, schema=SCHEMA)
        yield db
        db.execute(f"drop schema {SCHEMA} cascade")


@pytest.fixture
def load(conn, warehouse_url):
    engine = source_engine(warehouse_url)
    yield lambda spec: extract_load(conn, engine, spec)
    engine.dispose()


def _purchases(app, ids, tokens="100", updated_at=TWO_HOURS_AGO) -> int:
    """Insert one purchase per id (None: a NULL id); returns how many were offered."""
    for purchase_id in ids:
        app.execute(
            f"insert into {SCHEMA}.purchases (id, user_id, provider, status, tokens, amount_inr, "
            f"created_at, updated_at) values (%s, 7, 'razorpay', 'paid', {tokens}, 99.00, "
            f"{TWO_HOURS_AGO}, {updated_at})",
            [purchase_id],
        )
    return len(ids)


def _rejects(conn, table: str) -> dict:
    return dict(
        conn.execute(
            "select coalesce(primary_key, '<null>'), reject_reason from quarantine.source_rows "
            "where source_table = %s",
            [table],
        ).fetchall()
    )


def _state(conn, spec) -> tuple:
    return conn.execute(
        "select status, items_quarantined, error_message from ops.sync_state where id = %s",
        [spec.sync_id],
    ).fetchone()


def _count(conn, relation: str) -> int:
    return conn.execute(f"select count(*) from {relation}").fetchone()[0]


def _without_primary_key(app) -> None:
    """A source whose key is not enforced (a view, a replica, an app without the constraint)."""
    app.execute(f"alter table {SCHEMA}.purchases drop constraint purchases_pkey")
    app.execute(f"alter table {SCHEMA}.purchases alter column id drop not null")


def test_a_null_and_a_repeated_primary_key_are_quarantined_the_rest_lands(app, conn, load):
    _without_primary_key(app)
    offered = _purchases(app, [1, 2, 3, None, 4])
    app.execute(f"update {SCHEMA}.purchases set status = 'pending' where id = 3")
    offered += _purchases(app, [3])  # read after the first 3: this one lands

    result = load(PURCHASES)

    assert result.rows + result.quarantined == offered == 6
    assert result.quarantined == 2
    rejects = _rejects(conn, "purchases")
    assert rejects["<null>"] == "id is NULL: the primary key (id) is required"
    assert rejects["3"] == (
        "id=3 is read 2 times in one batch: the primary key (id) must be unique; "
        "the last one read landed, this earlier one did not"
    )
    assert conn.execute("select status from raw.wallet__purchases where id = 3").fetchone() == (
        "paid",
    )
    assert _state(conn, PURCHASES) == ("idle", 2, None)


def test_the_run_after_a_bad_key_is_green_and_lands_new_rows(app, conn, load):
    _without_primary_key(app)
    _purchases(app, [1, None, 2, 2])
    load(PURCHASES)
    _purchases(app, [10], updated_at="now()")

    again = load(PURCHASES)  # the overlap re-reads the bad rows: re-rejected in place

    assert again.quarantined == 2
    assert again.cursor_after > again.cursor_before
    assert conn.execute("select count(*) from raw.wallet__purchases where id = 10").fetchone()[0]
    assert _count(conn, "quarantine.source_rows") == 2
    assert _state(conn, PURCHASES)[0] == "idle"


def test_the_cursor_moves_past_bad_rows_so_they_are_not_offered_forever(app, conn, load):
    _without_primary_key(app)
    _purchases(app, [1, None], updated_at="now() - interval '3 hours'")
    _purchases(app, [2], updated_at="now()")
    assert load(PURCHASES).quarantined == 1

    _purchases(app, [3], updated_at="now()")
    later = load(PURCHASES)  # reads from the cursor minus the 1 h overlap: not 3 h back

    assert (later.rows, later.quarantined) == (1, 0)
    assert _state(conn, PURCHASES) == ("idle", 0, None)


def test_a_value_that_no_longer_fits_the_raw_type_is_quarantined(app, conn, load):
    load(PURCHASES)  # raw.wallet__purchases.tokens is bigint, as at the source
    app.execute(f"alter table {SCHEMA}.purchases alter column tokens type text")
    offered = _purchases(app, [1, 2]) + _purchases(app, [3], tokens="'lots'")

    result = load(PURCHASES)

    assert (result.rows, result.quarantined) == (2, 1) and result.rows + 1 == offered
    assert _rejects(conn, "purchases") == {
        "3": "tokens='lots' is not a valid bigint (the raw column's type): "
        'invalid input syntax for type bigint: "lots"'
    }
    kept = conn.execute("select raw_values->>'tokens' from quarantine.source_rows").fetchone()
    assert kept == ("lots",)  # the row is kept as read
    _purchases(app, [4], tokens="'12'", updated_at="now()")
    assert load(PURCHASES).quarantined == 1  # green: 4 lands, 3 is re-rejected in place
    assert conn.execute("select tokens from raw.wallet__purchases where id = 4").fetchone() == (12,)


def _events(app, props: list[str]) -> int:
    """One YesGoddess event per props_json text (seed 001's columns); returns the count."""
    for i, text in enumerate(props):
        app.execute(
            f"insert into {SCHEMA}.events (id, occurred_at, source, event_type, props_json, "
            f"created_at) values (%s, now(), 'web', 'page_viewed', %s, {TWO_HOURS_AGO})",
            [f"evt_{i}", text],
        )
    return len(props)


NESTED = '{"a":' * 2000 + "1" + "}" * 2000


def test_a_nul_in_json_props_is_quarantined_odd_shapes_land(app, conn, load):
    """A `json` column can hold \\u0000; jsonb (raw, as staging reads it) cannot."""
    app.execute(f"alter table {SCHEMA}.events alter column props_json type json")
    good = ['{"page": "home"}', "[1, 2]", '"a string"', "42", NESTED]
    offered = _events(app, [*good, '{"page": "a\\u0000b"}'])

    result = load(EVENTS)

    assert result.rows + result.quarantined == offered and result.quarantined == 1
    [reason] = _rejects(conn, "events").values()
    assert reason == (
        'props_json=\'{"page": "a\\u0000b"}\' is not a valid jsonb (the raw column\'s type): '
        "unsupported Unicode escape sequence (\\u0000 cannot be converted to text.)"
    )
    # staging, not the extract-load, rejects props that are not an object (kept as before)
    assert conn.execute(
        "select array_agg(jsonb_typeof(props_json) order by ingest_seq) from raw.yesgoddess__events"
    ).fetchone() == (["object", "array", "string", "number", "object"],)
    _events(app, ['{"page": "after"}'])
    assert load(EVENTS).quarantined == 1 and _count(conn, "raw.yesgoddess__events") == 6


EDGE_TIMES = ["0001-01-01 00:00+00", "9999-12-31 00:00+00", "infinity", "-infinity"]


def test_edge_timestamps_land_and_an_infinite_cursor_does_not_stop_the_load(app, conn, load):
    """raw keeps what arrived; staging judges event times. An `infinity` updated_at (the
    cursor) used to fail every run: Python has no datetime for it."""
    for i, edge in enumerate(EDGE_TIMES, start=1):
        app.execute(
            f"insert into {SCHEMA}.purchases values (%s, 7, 'razorpay', 'paid', 1, 1, %s, %s)",
            [i, edge, edge if edge == "infinity" else "2026-03-01 10:00+00"],
        )

    result = load(PURCHASES)

    assert (result.rows, result.quarantined) == (4, 0)
    assert result.cursor_after.startswith("2026-03-01T10:00:00")
    landed = conn.execute(
        "select created_at::text from raw.wallet__purchases order by id"
    ).fetchall()
    assert [t for (t,) in landed] == [
        "0001-01-01 00:00:00+00",
        "9999-12-31 00:00:00+00",
        "infinity",
        "-infinity",
    ]
    _purchases(app, [5], updated_at="now()")
    assert load(PURCHASES).rows >= 1 and _state(conn, PURCHASES)[0] == "idle"


def test_a_timestamp_without_a_time_zone_lands_as_utc(app, conn, load):
    load(PURCHASES)
    app.execute(f"alter table {SCHEMA}.purchases alter column created_at type timestamp")
    _purchases(app, [1])
    app.execute(f"update {SCHEMA}.purchases set created_at = '2026-03-01 10:00'")
    with conn.transaction():
        conn.execute("set time zone 'America/New_York'")  # ignored: the load says UTC

    assert load(PURCHASES).rows == 1
    assert (
        conn.execute("select created_at at time zone 'UTC' from raw.wallet__purchases")
        .fetchone()[0]
        .isoformat()
        == "2026-03-01T10:00:00"
    )


def test_a_missing_source_table_says_which_and_what_to_do(app, conn, load):
    app.execute(f"alter table {SCHEMA}.purchases rename to purchases_gone")
    with pytest.raises(LookupError) as failure:
        load(PURCHASES)
    message = str(failure.value)
    assert "wallet: table 'purchases' not found in SOURCE_WALLET_URL" in message
    assert f"schema '{SCHEMA}'" in message and "create it there" in message
    assert _state(conn, PURCHASES)[0] == "error"

    app.execute(f"alter table {SCHEMA}.purchases_gone rename to purchases")
    _purchases(app, [1])
    assert load(PURCHASES).rows == 1 and _state(conn, PURCHASES) == ("idle", 0, None)


def test_a_100_mb_text_value_lands_in_bounded_memory(app, conn, load):
    app.execute(
        f"insert into {SCHEMA}.prompts (prompt_id, user_id, text, created_at) "
        f"values ('p1', 'u1', repeat('x', 100000000), {TWO_HOURS_AGO}), "
        f"('p2', 'u1', 'short', {TWO_HOURS_AGO})"
    )
    # the value passes as one COPY block: memory grows by its size a few times, not the batch
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    result = load(PROMPTS)

    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert (result.rows, result.quarantined) == (2, 0)
    assert conn.execute(
        "select length(text) from raw.everreach__prompts where prompt_id = 'p1'"
    ).fetchone() == (100_000_000,)
    assert grown_mb < 300, f"the load grew the process by {grown_mb:.0f} MB"


def test_the_asset_reports_quarantined_rows_in_its_metadata(app, conn, warehouse_url, monkeypatch):
    from dagster import materialize

    from dagster_project.assets.ingest_sources import source_table_asset
    from dagster_project.resources import WarehouseResource

    _without_primary_key(app)
    _purchases(app, [1, None])
    monkeypatch.setenv(PURCHASES.url_env, warehouse_url)

    result = materialize(
        [source_table_asset(PURCHASES)], resources={"warehouse": WarehouseResource()}
    )

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert (metadata["rows_landed"], metadata["rows_quarantined"]) == (1, 1)


def test_a_streamed_source_quarantines_the_same_way(conn, tmp_path):
    """A non-PostgreSQL app database (SQLite here) streams through Python, chunk by chunk:
    a bad row is quarantined from its chunk, whatever its column affinity let in."""
    import sqlalchemy as sa

    from dagster_project.ingest.source_tables import SourceTable

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    with engine.begin() as db:
        db.execute(sa.text("create table orders (id integer, item text, qty integer, seq integer)"))
        db.execute(
            sa.text("insert into orders values (:id, :item, :qty, :seq)"),
            [
                {"id": 1, "item": "ok", "qty": 1, "seq": 10},
                {"id": 2, "item": "nul\x00byte", "qty": 1, "seq": 20},
                {"id": 3, "item": "ok", "qty": "lots", "seq": 30},
                {"id": None, "item": "ok", "qty": 1, "seq": 40},
                {"id": 5, "item": "ok", "qty": 1, "seq": 50},
            ],
        )
    spec = SourceTable("sqlitetest", "orders", ("id",), "seq", overlap=0)

    result = extract_load(conn, engine, spec, chunk_rows=2)

    assert (result.rows, result.quarantined) == (2, 3)
    rejects = _rejects(conn, "orders")
    assert rejects["2"] == "item='nul\\x00byte' holds a NUL character, which PostgreSQL text cannot"
    assert rejects["3"].startswith("qty='lots' is not a valid integer")
    assert rejects["<null>"] == "id is NULL: the primary key (id) is required"
    assert result.cursor_after == "50"


def test_a_column_dropped_at_the_source_is_reported_and_rows_still_land(
    app, conn, warehouse_url, monkeypatch
):
    from dagster import materialize

    from dagster_project.assets.ingest_sources import source_table_asset
    from dagster_project.resources import WarehouseResource

    monkeypatch.setenv(PURCHASES.url_env, warehouse_url)
    assets, resources = [source_table_asset(PURCHASES)], {"warehouse": WarehouseResource()}
    _purchases(app, [1])
    materialize(assets, resources=resources)
    app.execute(f"alter table {SCHEMA}.purchases drop column provider")
    app.execute(f"insert into {SCHEMA}.purchases select 2, user_id, status, tokens, amount_inr, "
                f"created_at, now() from {SCHEMA}.purchases")  # fmt: skip

    result = materialize(assets, resources=resources)

    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    assert metadata["columns_missing_at_source"] == "provider"
    assert conn.execute(
        "select id, provider from raw.wallet__purchases order by id"
    ).fetchall() == [(1, "razorpay"), (2, None)]
