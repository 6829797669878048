"""The extract-load from a MariaDB app database on 1M Wallet ledger rows (seed 002's MySQL
style), against the same rows read by the driver alone (PyMySQL, unbuffered, its default
decoders) in the same run: what reading the table costs before anything lands, the floor
as the bare COPY is for PostgreSQL (issue bench point: extract-load >= 0.7x of it).

The server is MYSQL_TEST_URL when set (the bench creates database `bench_wallet` there),
else a private MariaDB in a temp dir (tests/mariadb.py), gone at the end."""

from __future__ import annotations

from dataclasses import dataclass

import pymysql
import pymysql.cursors
import sqlalchemy as sa

from bench.environment import Target
from bench.sections import BenchError
from bench.timing import progress, timed
from dagster_project.ingest import mysql_source
from dagster_project.ingest.extract_load import extract_load, source_column_types, source_engine
from dagster_project.ingest.source_tables import SourceTable
from dagster_project.ingest.warehouse_tables import ensure_tables

DATABASE = "bench_wallet"
SPEC = SourceTable(
    "benchwallet",
    "wallet_ledger",
    ("id",),
    "occurred_at",
    event_time="occurred_at",
    schema=DATABASE,
)
FETCH_ROWS = 10_000  # the floor's fetchmany block

# seed 002's style (as tests/integration/test_wallet_mysql.py): ULID ids, ENUM, UNSIGNED, JSON
DDL = f"""create table {DATABASE}.wallet_ledger (
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
) engine=InnoDB"""

# Set-based from MariaDB's SEQUENCE engine: ids sort like their times (as ULIDs do), one
# row every 2 s from 2025-11-01 UTC, a third of the rows with a small metadata object
# (`mod`, not `%`: the driver formats the statement)
FILL = f"""insert into {DATABASE}.wallet_ledger
select concat('01JB', lpad(upper(conv(seq, 10, 32)), 22, '0')),
       1 + seq mod 20000,
       if(seq mod 5 = 0, 'promo', 'regular'),
       if(seq mod 3 = 0, 'credit', 'debit'),
       elt(1 + seq mod 4, 'purchase', 'chapter_generation', 'referral_bonus', 'image_render'),
       1 + seq mod 1000,
       seq mod 100000,
       if(seq mod 5 = 0, seq mod 5000, 0),
       if(seq mod 2 = 0, concat('ord_', seq), null),
       if(seq mod 3 = 0, json_object('source', 'razorpay', 'attempt', seq mod 7 + 1), null),
       from_unixtime(1761955200 + seq * 2)
from {DATABASE}.seq_1_to_{{rows}}"""


@dataclass
class MysqlLoadTimes:
    rows: int
    driver_s: float  # PyMySQL SSCursor, fetchmany of the extract-load's select, nothing else
    el_s: float  # extract_load into an empty raw table, cursor stored, committed
    fill_s: float  # the untimed fill, for the log

    @property
    def driver_rate(self) -> float:
        return self.rows / self.driver_s

    @property
    def el_rate(self) -> float:
        return self.rows / self.el_s

    @property
    def ratio(self) -> float:
        return self.el_rate / self.driver_rate


def _fill(url: str, rows: int) -> None:
    engine = sa.create_engine(url + "/", connect_args=mysql_source.CONNECT_ARGS)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"drop database if exists {DATABASE}")
            conn.exec_driver_sql(f"create database {DATABASE}")
            conn.exec_driver_sql(DDL)
            conn.exec_driver_sql(FILL.format(rows=int(rows)))
    finally:
        engine.dispose()


def _select(engine: sa.Engine) -> str:
    """The statement the extract-load issues on an empty cursor: every column, catalog order."""
    columns = ", ".join(f"`{c}`" for c in source_column_types(engine, SPEC))
    return f"select {columns} from `{DATABASE}`.`{SPEC.table}`"


def _driver_only(url: str, statement: str) -> int:
    """The floor: PyMySQL alone, unbuffered, in the extract-load's session settings; the
    rows are counted and dropped."""
    u = sa.engine.make_url(url)
    conn = pymysql.connect(
        host=u.host,
        port=u.port or 3306,
        user=u.username,
        password=u.password or "",
        database=DATABASE,
        cursorclass=pymysql.cursors.SSCursor,
        **mysql_source.CONNECT_ARGS,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            count = 0
            while block := cur.fetchmany(FETCH_ROWS):
                count += len(block)
        return count
    finally:
        conn.close()


def _reset(target: Target) -> None:
    with target.connect(autocommit=True) as conn:
        ensure_tables(conn)  # ops.sync_state, when this section runs first on a fresh database
        conn.execute(f"drop table if exists raw.{SPEC.raw_table}")
        conn.execute("delete from ops.sync_state where id = %s", [SPEC.sync_id])


def _check(what: str, got: int, rows: int) -> None:
    if got != rows:
        raise BenchError(f"{what} read {got:,} of {rows:,} rows")


def _measure(target: Target, url: str, rows: int, repeat: int) -> tuple[float, float]:
    driver_runs, el_runs = [], []
    engine = source_engine(f"{url}/{DATABASE}")
    try:
        statement = _select(engine)
        for i in range(max(1, repeat)):
            progress(f"repetition {i + 1}/{repeat}: driver-only read, extract-load ...")
            seconds, count = timed(lambda: _driver_only(url, statement))
            _check("the driver-only read", count, rows)
            driver_runs.append(seconds)
            _reset(target)
            with target.connect() as conn:
                seconds, result = timed(lambda: extract_load(conn, engine, SPEC))
            _check("extract-load", result.rows, rows)
            el_runs.append(seconds)
            rates = f"driver-only {rows / driver_runs[-1]:,.0f}, extract-load {rows / seconds:,.0f}"
            progress(f"{rates} rows/s")
    finally:
        engine.dispose()
    return min(driver_runs), min(el_runs)


def bench_mysql_extract_load(target: Target, rows: int, repeat: int) -> MysqlLoadTimes:
    from tests.mariadb import server_url  # the tests' helper: installs MariaDB if missing

    with server_url() as url:
        fill_s, _ = timed(lambda: _fill(url, rows))
        progress(f"created {DATABASE}.wallet_ledger, {rows:,} rows, in {fill_s:.1f}s (untimed)")
        driver_s, el_s = _measure(target, url, rows, repeat)
    return MysqlLoadTimes(rows, driver_s, el_s, fill_s)
