"""The Wallet on its real database: seed 002's MySQL DDL style (ENUM, JSON, TIMESTAMP … ON
UPDATE, UNSIGNED, ULID ids) on a real MariaDB whose time_zone is +05:30, landed into raw
and built into the marts.

Independent checks: landed times against MariaDB's own unix_timestamp() of each row, the
scenario-1 figures from seed 002's testing guide, the raw tables against the source rows.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from dagster_project.ingest.deletions import DeletionCheck, detect_deletions
from dagster_project.ingest.extract_load import extract_load, extract_load_system, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES
from dagster_project.run_policies import is_transient
from tests.conftest import run_dbt

DATABASE = "wallet_test"

# seed 002's style: InnoDB, ENUM, JSON, TIMESTAMP … ON UPDATE, UNSIGNED, VARCHAR(26) ULIDs
DDL = [
    """create table users (
        id int unsigned primary key,
        username varchar(64) not null,
        email varchar(255) null,
        role enum('user', 'admin') not null default 'user',
        created_at timestamp not null default current_timestamp
    ) engine=InnoDB""",
    """create table wallet_ledger (
        id varchar(26) primary key comment 'ULID',
        user_id int unsigned not null,
        token_type enum('regular', 'promo') not null,
        direction enum('credit', 'debit') not null,
        reason varchar(64) not null,
        amount bigint unsigned not null,
        balance_after_regular bigint unsigned null,
        balance_after_promo bigint unsigned null,
        reference_id varchar(64) null,
        metadata json null,
        occurred_at timestamp not null default current_timestamp,
        index idx_occurred_at (occurred_at)
    ) engine=InnoDB""",
    """create table purchases (
        id bigint unsigned primary key,
        user_id int unsigned not null,
        provider enum('razorpay', 'stripe') not null,
        status enum('created', 'pending', 'paid', 'failed', 'refunded') not null,
        tokens bigint unsigned not null,
        amount_inr decimal(12,2) not null,
        created_at timestamp not null default current_timestamp,
        updated_at timestamp not null default current_timestamp on update current_timestamp
    ) engine=InnoDB""",
    """create table referrals (
        id bigint unsigned primary key,
        campaign_id varchar(26) not null,
        referrer_user_id int unsigned not null,
        referred_user_id int unsigned not null,
        status enum('pending', 'credited') not null,
        bonus_tokens bigint unsigned not null,
        created_at timestamp not null default current_timestamp,
        updated_at timestamp not null default current_timestamp on update current_timestamp
    ) engine=InnoDB""",
    """create table authorizations (
        id varchar(26) primary key,
        user_id int unsigned not null,
        feature varchar(64) not null,
        amount bigint unsigned not null,
        status enum('created', 'held', 'captured', 'voided', 'expired') not null,
        created_at timestamp not null default current_timestamp,
        updated_at timestamp not null default current_timestamp on update current_timestamp
    ) engine=InnoDB""",
]

# seed 002's testing guide, scenario 1 (balances filled in: the seed's INSERT leaves them out),
# written in the server's own zone (+05:30): 10:00 there is 04:30 UTC, still 2025-11-01
SCENARIO_1 = """insert into wallet_ledger
    (id, user_id, token_type, direction, reason, amount, balance_after_regular,
     balance_after_promo, metadata, occurred_at)
values
    ('01JB0000000000000000000001', 1, 'regular', 'credit', 'purchase', 1000, 1000, 0,
     '{"source": "razorpay"}', '2025-11-01 10:00:00'),
    ('01JB0000000000000000000002', 1, 'regular', 'debit', 'chapter_generation', 500, 500, 0,
     null, '2025-11-01 11:00:00'),
    ('01JB0000000000000000000003', 2, 'promo', 'credit', 'referral_bonus', 100, 0, 100,
     null, '2025-11-01 12:00:00')"""


@pytest.fixture
def wallet_db(mysql_url, fresh_warehouse):
    root = sa.create_engine(mysql_url + "/")
    with root.begin() as conn:
        conn.exec_driver_sql(f"drop database if exists {DATABASE}")
        conn.exec_driver_sql(f"create database {DATABASE}")
    root.dispose()
    engine = sa.create_engine(f"{mysql_url}/{DATABASE}")
    with engine.begin() as conn:
        conn.exec_driver_sql("set time_zone = '+05:30'")  # the app's session, in India
        for statement in DDL:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql(
            "insert into users (id, username, email, created_at) values "
            "(1, 'john_doe', 'John@Example.com', '2025-10-01 09:00:00'), "
            "(2, 'jane', 'jane@example.com', '2025-10-01 09:00:00')"
        )
        conn.exec_driver_sql(SCENARIO_1)
    yield engine, f"{mysql_url}/{DATABASE}"
    engine.dispose()


def _epochs(engine, table: str, column: str) -> dict[str, Decimal]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"select id, unix_timestamp({column}) from {table}").all()
    return {str(k): Decimal(v) for k, v in rows}


def test_every_landed_time_is_the_utc_instant_of_the_source_row(wallet_db, conn):
    engine, url = wallet_db
    extract_load_system(conn, url, "wallet")
    landed = dict(
        conn.execute(
            "select id, extract(epoch from occurred_at) from raw.wallet__wallet_ledger"
        ).fetchall()
    )
    assert {k: Decimal(v) for k, v in landed.items()} == _epochs(
        engine, "wallet_ledger", "occurred_at"
    )
    metadata = conn.execute(
        "select metadata from raw.wallet__wallet_ledger where id = '01JB0000000000000000000001'"
    ).fetchone()[0]
    assert metadata == {"source": "razorpay"}  # an object, not a JSON string


def test_scenario_1_on_mariadb(wallet_db, conn):
    _, url = wallet_db
    extract_load_system(conn, url, "wallet")
    conn.commit()
    window = {"min_date": "2025-10-01", "max_date": "2025-11-05"}
    run_dbt("build", "--quiet", "--select", "source:wallet+", "--vars", json.dumps(window))
    day = conn.execute(
        "select credited, debited, net, revenue_in_inr, active_users "
        "from marts.fct_token_daily where date = '2025-11-01'"
    ).fetchone()
    assert day == (1100, 500, 600, Decimal("0.00"), 2)


def test_a_second_load_takes_exactly_the_new_and_updated_rows(wallet_db, conn):
    engine, url = wallet_db
    with engine.begin() as app:
        app.exec_driver_sql(
            "insert into purchases (id, user_id, provider, status, tokens, amount_inr) "
            "values (7, 1, 'razorpay', 'pending', 1000, 299.00)"
        )
    first = extract_load_system(conn, url, "wallet")
    assert (first["wallet_ledger"].rows, first["purchases"].rows) == (3, 1)
    with engine.begin() as app:  # ON UPDATE moves updated_at; a new entry arrives
        app.exec_driver_sql("update purchases set status = 'paid' where id = 7")
        app.exec_driver_sql(
            "insert into wallet_ledger (id, user_id, token_type, direction, reason, amount, "
            "balance_after_regular, balance_after_promo) values "
            "('01JD0000000000000000000001', 1, 'regular', 'credit', 'purchase', 1000, 1500, 0)"
        )
    extract_load_system(conn, url, "wallet")
    assert conn.execute("select status from raw.wallet__purchases where id = 7").fetchone() == (
        "paid",
    )
    landed = conn.execute("select id from raw.wallet__wallet_ledger order by id").fetchall()
    assert [r[0] for r in landed] == sorted(_epochs(engine, "wallet_ledger", "occurred_at"))


def test_a_zero_date_is_quarantined_naming_it(wallet_db, conn):
    engine, url = wallet_db
    with engine.begin() as app:
        app.exec_driver_sql("set session sql_mode = ''")  # what lets an old app write one
        app.exec_driver_sql(
            "insert into purchases values (8, 1, 'stripe', 'failed', 500, 149.00, "
            "'0000-00-00 00:00:00', '2025-11-01 10:00:00'), "
            "(9, 2, 'stripe', 'paid', 500, 149.00, '2025-11-01 09:00:00', '2025-11-01 10:00:00')"
        )
    result = extract_load_system(conn, url, "wallet")["purchases"]
    assert (result.rows, result.quarantined) == (1, 1)  # landed + quarantined = offered
    reason = conn.execute(
        "select reject_reason from quarantine.source_rows where source_table = 'purchases'"
    ).fetchone()[0]
    assert "created_at='0000-00-00 00:00:00' is a MySQL zero date" in reason


def _as_datetime(engine, table: str) -> None:
    """The table's times as DATETIME, which carries no zone (an app writing local time)."""
    with engine.begin() as app:
        app.exec_driver_sql(f"delete from {table}")
        app.exec_driver_sql(
            f"alter table {table} modify created_at datetime not null, "
            "modify updated_at datetime not null"
        )


def _landed_utc(conn, table: str) -> dict:
    rows = conn.execute(
        f"select id, to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
        f"from raw.wallet__{table}"
    ).fetchall()
    return {str(k): v for k, v in rows}


@pytest.mark.parametrize(
    ("zone", "utc"),
    [(None, "2025-11-01 10:00:00"), ("Asia/Kolkata", "2025-11-01 04:30:00")],
)
def test_datetime_columns_are_read_in_the_zone_named_for_the_table(
    wallet_db, conn, monkeypatch, zone, utc
):
    engine, url = wallet_db
    _as_datetime(engine, "purchases")
    if zone:
        monkeypatch.setenv("SOURCE_WALLET__PURCHASES_DATETIME_ZONE", zone)
    with engine.begin() as app:
        app.exec_driver_sql(
            "insert into purchases values (7, 1, 'razorpay', 'paid', 1000, 299.00, "
            "'2025-11-01 10:00:00', '2025-11-01 10:00:00')"
        )
    extract_load_system(conn, url, "wallet")
    assert _landed_utc(conn, "purchases") == {"7": utc}  # 10:00 IST is 04:30 UTC


def test_a_bad_datetime_zone_is_refused_naming_it(wallet_db, conn, monkeypatch):
    _, url = wallet_db
    monkeypatch.setenv("SOURCE_WALLET__PURCHASES_DATETIME_ZONE", "India")
    with pytest.raises(ValueError, match="SOURCE_WALLET__PURCHASES_DATETIME_ZONE='India'"):
        extract_load_system(conn, url, "wallet")


def test_the_cursor_takes_rows_written_in_the_repeated_hour_of_a_dst_change(
    wallet_db, conn, monkeypatch
):
    """New York's clocks go back at 02:00 EDT on 2026-11-01: 01:00–01:59 happens twice. A
    row written at 01:10 EST comes after one written at 01:30 EDT, yet its DATETIME reads
    earlier; the cursor's overlap must still take it on the next load."""
    engine, url = wallet_db
    _as_datetime(engine, "authorizations")
    monkeypatch.setenv("SOURCE_WALLET__AUTHORIZATIONS_DATETIME_ZONE", "America/New_York")
    insert = (
        "insert into authorizations values ('{id}', 1, 'chapter_generation', 50, 'held', "
        "'{at}', '{at}')"
    )
    with engine.begin() as app:
        app.exec_driver_sql(
            insert.format(id="01JE0000000000000000000001", at="2026-11-01 01:30:00")
        )
    first = extract_load_system(conn, url, "wallet")["authorizations"]
    with engine.begin() as app:  # half an hour later, after the clocks went back
        app.exec_driver_sql(
            insert.format(id="01JE0000000000000000000002", at="2026-11-01 01:10:00")
        )
    second = extract_load_system(conn, url, "wallet")["authorizations"]
    assert (first.rows, second.rows) == (1, 2)  # the overlap re-reads the first one
    landed = _landed_utc(conn, "authorizations")
    # a DATETIME cannot say which 01:10 it was: zoneinfo takes the first (EDT, fold=0)
    assert landed == {
        "01JE0000000000000000000001": "2026-11-01 05:30:00",
        "01JE0000000000000000000002": "2026-11-01 05:10:00",
    }


def test_unsigned_extremes_and_tinyint_1_arrive_intact(wallet_db, conn):
    engine, url = wallet_db
    top = 2**64 - 1  # BIGINT UNSIGNED's maximum, past PostgreSQL's bigint
    with engine.begin() as app:
        app.exec_driver_sql("alter table users add column email_verified tinyint(1) null")
        app.exec_driver_sql("update users set email_verified = (id = 1)")
        app.exec_driver_sql(
            "insert into users (id, username, created_at) values (4294967295, 'max', now())"
        )
        app.exec_driver_sql(
            "insert into purchases (id, user_id, provider, status, tokens, amount_inr) "
            f"values ({top}, 4294967295, 'stripe', 'paid', {top}, 0.00)"
        )
    extract_load_system(conn, url, "wallet")
    purchase = conn.execute(
        "select id, user_id, tokens, pg_typeof(tokens)::text from raw.wallet__purchases"
    ).fetchone()
    assert purchase == (top, 4294967295, top, "numeric")
    verified = conn.execute(
        "select id, email_verified, pg_typeof(email_verified)::text from raw.wallet__users "
        "order by id"
    ).fetchall()
    assert verified == [(1, True, "boolean"), (2, False, "boolean"), (4294967295, None, "boolean")]


def test_a_row_deleted_in_mariadb_is_marked_and_a_reinserted_one_unmarked(wallet_db, conn):
    """As the raw asset does: the load, then the key comparison (ingest/deletions.py)."""
    engine, url = wallet_db
    spec = next(s for s in SOURCE_TABLES if s.raw_table == "wallet__purchases")
    source = source_engine(url)

    def load() -> DeletionCheck:
        extract_load(conn, source, spec)
        return detect_deletions(conn, source, spec)

    insert = (
        "insert into purchases (id, user_id, provider, status, tokens, amount_inr) values "
        "(7, 1, 'razorpay', 'paid', 1000, 299.00), (8, 2, 'stripe', 'paid', 500, 149.00)"
    )
    deleted = "select id::int, _deleted_at is not null from raw.wallet__purchases order by id"
    try:
        with engine.begin() as app:
            app.exec_driver_sql(insert)
        load()
        with engine.begin() as app:
            app.exec_driver_sql("delete from purchases where id = 8")
        assert load() == DeletionCheck(keys_at_source=1, deleted=1, restored=0)
        assert conn.execute(deleted).fetchall() == [(7, False), (8, True)]
        with engine.begin() as app:
            app.exec_driver_sql("delete from purchases")
            app.exec_driver_sql(insert)
        assert load() == DeletionCheck(keys_at_source=2, deleted=0, restored=1)
        assert conn.execute(deleted).fetchall() == [(7, False), (8, False)]
    finally:
        source.dispose()


def test_chunks_read_ahead_land_every_row_and_json_as_its_own_text(wallet_db, conn):
    """One row per chunk: the reader thread runs ahead of the COPY through every chunk
    boundary; JSON lands as PostgreSQL parses the source's text (1.10 stays 1.10)."""
    engine, url = wallet_db
    text = '{"price": 1.10, "big": 123456789012345678901234567890, "name": "Zoë"}'
    with engine.begin() as app:
        app.exec_driver_sql("set time_zone = '+05:30'")  # whatever the server's own zone
        app.exec_driver_sql(
            "insert into wallet_ledger (id, user_id, token_type, direction, reason, amount, "
            "metadata, occurred_at) values "
            f"('01JE0000000000000000000001', 2, 'promo', 'debit', 'render', 5, '{text}', "
            "'2025-11-02 08:00:00')"
        )
    spec = next(s for s in SOURCE_TABLES if s.raw_table == "wallet__wallet_ledger")
    source = source_engine(url)
    try:
        result = extract_load(conn, source, spec, chunk_rows=1)
    finally:
        source.dispose()
    assert result.rows == 4
    landed = conn.execute("select id from raw.wallet__wallet_ledger order by id").fetchall()
    assert [r[0] for r in landed] == sorted(_epochs(engine, "wallet_ledger", "occurred_at"))
    assert result.cursor_after == "2025-11-02T02:30:00+00:00"  # 08:00 at +05:30
    same = conn.execute(
        "select metadata::text = %s::jsonb::text from raw.wallet__wallet_ledger "
        "where id = '01JE0000000000000000000001'",
        [text],
    ).fetchone()[0]
    assert same


def test_a_connection_killed_mid_stream_fails_saying_so_and_is_retried(wallet_db, conn):
    """KILL the extract-load's connection while it streams: the error that reaches the run
    is MariaDB's lost connection (a retry's cue), not the dead socket's close; nothing of
    the table lands and its cursor stays."""
    engine, url = wallet_db
    with engine.begin() as app:  # enough rows to be still streaming when the KILL comes
        app.exec_driver_sql(
            "insert into wallet_ledger (id, user_id, token_type, direction, reason, amount, "
            "balance_after_regular, balance_after_promo, occurred_at) "
            "select concat('01JF', lpad(seq, 22, '0')), 1, 'regular', 'credit', 'purchase', "
            "1, seq, 0, '2025-11-02 08:00:00' from seq_1_to_300000"
        )
    spec = next(s for s in SOURCE_TABLES if s.raw_table == "wallet__wallet_ledger")
    killed = threading.Event()

    def kill_the_stream() -> None:
        deadline = time.monotonic() + 30
        with engine.connect() as admin:
            while time.monotonic() < deadline and not killed.is_set():
                ids = (
                    admin.exec_driver_sql(
                        "select id from information_schema.processlist "
                        "where info like 'SELECT%%wallet_ledger%%' and id <> connection_id()"
                    )
                    .scalars()
                    .all()
                )
                for thread_id in ids:
                    admin.exec_driver_sql(f"kill {thread_id}")
                    killed.set()
                time.sleep(0.01)

    killer = threading.Thread(target=kill_the_stream)
    source = source_engine(url)
    killer.start()
    try:
        with pytest.raises(Exception) as failed:
            extract_load(conn, source, spec, chunk_rows=1000)
    finally:
        killed.set()
        killer.join()
        source.dispose()
    assert "Lost connection" in str(failed.value) or "killed" in str(failed.value)
    assert is_transient(failed.value)
    conn.rollback()
    landed = conn.execute("select to_regclass('raw.wallet__wallet_ledger')").fetchone()[0]
    if landed:
        assert conn.execute("select count(*) from raw.wallet__wallet_ledger").fetchone()[0] == 0
    cursor = conn.execute(
        "select last_cursor from ops.sync_state where id = %s", [spec.sync_id]
    ).fetchone()
    assert cursor is None or cursor[0] is None
