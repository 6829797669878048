"""`analytics simulate --systems wallet` into a MySQL SOURCE_WALLET_URL, as a user runs it,
on a real MariaDB whose time_zone is +05:30.

Independent checks, in SQL on MariaDB: the counts the command printed; every row of every
table equal to the same simulation written to the embedded PostgreSQL (ids, amounts,
statuses, JSON, and the instants: unix_timestamp() there, extract(epoch) here); a second
run changes nothing; the extract-load lands all of it in raw.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from decimal import Decimal

import psycopg
import pytest
import sqlalchemy as sa

from dagster_project.ingest.extract_load import extract_load_system
from dagster_project.settings import libpq_url
from dagster_project.simulate import wallet_mysql
from dagster_project.simulate.wallet import (
    AUTHORIZATION_COLUMNS,
    LEDGER_COLUMNS,
    PURCHASE_COLUMNS,
    REFERRAL_COLUMNS,
    TABLES,
    USER_COLUMNS,
    simulate_wallet,
)
from tests.conftest import REPO_ROOT, python_bin

DATABASE = "sim_wallet_test"
PG_SCHEMA = "test_sim_wallet_mysql"
END = date(2026, 3, 31)  # a past day: the same rows every run
ARGS = ["--days", "3", "--events-per-day", "2000", "--seed", "7", "--end", END.isoformat()]
COLUMNS = {
    "users": USER_COLUMNS,
    "wallet_ledger": LEDGER_COLUMNS,
    "purchases": PURCHASE_COLUMNS,
    "referrals": REFERRAL_COLUMNS,
    "authorizations": AUTHORIZATION_COLUMNS,
}
TIMES = ("created_at", "updated_at", "occurred_at")
CREATED = "2026-03-31T10:00:00.000Z"
SUMMARY = re.compile(
    r"simulated (?P<wallet_ledger>[\d,]+) Wallet ledger entries of (?P<users>[\d,]+) users "
    r".*: (?P<purchases>[\d,]+) purchases .* (?P<authorizations>[\d,]+) authorizations .* "
    r"(?P<referrals>[\d,]+) referrals .*bad rows: (?P<bad>.*)$"
)


@pytest.fixture
def wallet_url(mysql_url):
    root = sa.create_engine(mysql_url + "/")
    with root.begin() as conn:
        conn.exec_driver_sql(f"drop database if exists {DATABASE}")
        conn.exec_driver_sql(f"create database {DATABASE}")
    yield f"{mysql_url}/{DATABASE}"
    with root.begin() as conn:
        conn.exec_driver_sql(f"drop database if exists {DATABASE}")
    root.dispose()


@pytest.fixture
def mariadb(wallet_url):
    """A plain session in the server's own zone (+05:30): no settings of the simulator's."""
    engine = sa.create_engine(wallet_url)
    yield engine
    engine.dispose()


def _simulate_cli(url: str, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SOURCE_WALLET_URL=url)
    cmd = [python_bin("analytics"), "simulate", "--systems", "wallet", *ARGS, *extra]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def _select(table: str, epoch: str, schema: str = "") -> str:
    """Every column of the simulator's, times as epoch seconds (`epoch`: the SQL, with {}
    for the column)."""
    cols = [epoch.format(c) if c in TIMES else c for c in COLUMNS[table]]
    return f"select {', '.join(cols)} from {schema}{table} order by id"


def _row(table: str, values) -> tuple:
    """A row comparable across the two databases: MariaDB's JSON text parsed (psycopg
    parses jsonb itself); epochs are Decimal on both sides, equal whatever their scale."""
    return tuple(
        json.loads(v) if column == "metadata" and isinstance(v, str) else v
        for column, v in zip(COLUMNS[table], values, strict=True)
    )


def _mariadb_rows(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            t: [_row(t, r) for r in conn.exec_driver_sql(_select(t, "unix_timestamp({})"))]
            for t in TABLES
        }


def _postgres_rows(simulation: dict) -> dict[str, list[tuple]]:
    """The same simulation in a schema of the embedded PostgreSQL (as test_simulate_wallet)."""
    url = libpq_url(os.environ.get("SOURCE_WALLET_URL") or os.environ["WAREHOUSE_URL"])
    with psycopg.connect(url) as conn:
        conn.execute(f"drop schema if exists {PG_SCHEMA} cascade")
        simulate_wallet(conn, schema=PG_SCHEMA, reset=True, **simulation)
        epoch = "extract(epoch from {})"
        rows = {
            t: [_row(t, r) for r in conn.execute(_select(t, epoch, f"{PG_SCHEMA}."))]
            for t in TABLES
        }
        conn.execute(f"drop schema {PG_SCHEMA} cascade")
        conn.commit()
    return rows


def _printed(out: str) -> dict[str, str | int]:
    found = SUMMARY.search(out)
    assert found, out
    return {k: v if k == "bad" else int(v.replace(",", "")) for k, v in found.groupdict().items()}


def test_the_cli_writes_the_wallet_to_mariadb(wallet_url, mariadb, conn):
    refused = _simulate_cli(wallet_url)
    assert refused.returncode == 2 and "--allow-external" in refused.stderr
    first = _simulate_cli(wallet_url, "--allow-external")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "wallet days written: 3/3" in first.stdout
    printed = _printed(first.stdout)
    rows = _mariadb_rows(mariadb)
    assert {t: len(rows[t]) for t in TABLES} == {t: printed[t] for t in TABLES}
    assert printed["wallet_ledger"] > 4_000

    # the same seed on PostgreSQL, without the bad kinds MySQL cannot hold: the same rows
    same = {"days": 3, "events_per_day": 2_000, "seed": 7, "end": END}
    assert rows == _postgres_rows(same | {"bad_kinds": wallet_mysql.BAD_KINDS})

    again = _simulate_cli(wallet_url, "--allow-external")
    assert again.returncode == 0 and _printed(again.stdout) == printed
    assert _mariadb_rows(mariadb) == rows

    with mariadb.connect() as app:  # the overdrafts the summary names, found by SQL
        overdrafts = app.exec_driver_sql(
            "select count(*) from wallet_ledger where direction = 'debit' and "
            "if(token_type = 'regular', balance_after_regular, balance_after_promo) < 0"
        ).scalar()
    assert overdrafts >= 1 and printed["bad"] == f"{overdrafts} overdraft"

    landed = extract_load_system(conn, wallet_url, "wallet")
    for table in TABLES:
        raw = conn.execute(f"select count(*) from raw.wallet__{table}").fetchone()[0]
        assert raw == len(rows[table]) - landed[table].quarantined, table
    assert landed["wallet_ledger"].quarantined == 0


def test_a_rewritten_row_takes_only_a_newer_status(wallet_url, mariadb):
    conn = wallet_mysql.connect(wallet_url)
    try:
        wallet_mysql.create_tables(conn)
        writer = wallet_mysql.MySQLWriter(conn)

        def write(status: str, updated_at: str) -> None:
            row = (5_000_001, 100_001, "razorpay", status, 500, "149.00", CREATED, updated_at)
            writer.write("purchases", PURCHASE_COLUMNS, [row])
            conn.commit()

        write("pending", "2026-03-31T10:00:05.000Z")
        write("paid", "2026-03-31T10:00:40.250Z")  # newer: taken
        write("failed", "2026-03-31T10:00:20.000Z")  # older: ignored
        write("refunded", "2026-03-31T10:00:40.250Z")  # as new, not newer: ignored
    finally:
        conn.close()
    with mariadb.connect() as app:
        got = app.exec_driver_sql(
            "select status, unix_timestamp(updated_at) - unix_timestamp(created_at) from purchases"
        ).all()
    assert got == [("paid", Decimal("40.250"))]
