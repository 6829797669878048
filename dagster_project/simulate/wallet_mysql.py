"""The Wallet simulator writing to a MySQL or MariaDB app database (`SOURCE_WALLET_URL=
mysql+pymysql://…`), in the style of seed 002's DDL: InnoDB, ENUM, JSON, TIMESTAMP(3) …
ON UPDATE, BIGINT UNSIGNED amounts, VARCHAR(26) ULIDs. Same rows as the PostgreSQL path
(wallet.py) for the same seed, except for the bad rows such a schema cannot hold.

Bad rows: the seed's types are kept, so MySQL itself refuses three of the four kinds
(strict mode, which this session turns on): a `negative_amount` does not fit BIGINT
UNSIGNED, an `unknown_direction` or `unknown_token_type` is no value of its ENUM. A real
app on this schema cannot write them either, so they are not simulated here. The
`overdraft` (a race between two devices) is the app's logic, not a type: the balance
columns are signed, as a balance that went below 0 must be stored, and it is simulated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pymysql
import sqlalchemy as sa

from dagster_project.ingest.mysql_source import CONNECT_ARGS
from dagster_project.simulate.clock import window
from dagster_project.simulate.wallet import TABLES, WalletSimulation, simulate_into

SCHEMES = ("mysql", "mysql+pymysql", "mariadb", "mariadb+pymysql")
BAD_KINDS = ("overdraft",)  # the others: see the module docstring
TIME_COLUMNS = ("created_at", "updated_at", "occurred_at")
# rows per executemany call: PyMySQL cuts each into INSERTs of up to ~1 MB itself
BATCH_ROWS = 20_000

_TIMESTAMP = "timestamp(3) not null default current_timestamp(3)"  # explicit: no auto-update
_UPDATED = f"{_TIMESTAMP} on update current_timestamp(3)"
_TABLE_OPTIONS = "engine=InnoDB default charset=utf8mb4"
DDL = (
    f"""create table if not exists users (
        id int unsigned primary key,
        username varchar(64) not null,
        email varchar(255) null,
        role enum('user', 'admin') not null default 'user',
        created_at {_TIMESTAMP}
    ) {_TABLE_OPTIONS}""",
    f"""create table if not exists wallet_ledger (
        id varchar(26) primary key comment 'ULID',
        user_id int unsigned not null,
        token_type enum('regular', 'promo') not null,
        direction enum('credit', 'debit') not null,
        reason varchar(64) not null,
        amount bigint unsigned not null,
        balance_after_regular bigint not null comment 'below 0 after an overdraft',
        balance_after_promo bigint not null comment 'below 0 after an overdraft',
        reference_id varchar(64) null,
        metadata json null,
        occurred_at {_TIMESTAMP},
        index wallet_ledger_occurred_at_idx (occurred_at)
    ) {_TABLE_OPTIONS}""",
    f"""create table if not exists purchases (
        id bigint unsigned primary key,
        user_id int unsigned not null,
        provider enum('razorpay', 'stripe') not null,
        status enum('created', 'pending', 'paid', 'failed', 'refunded') not null,
        tokens bigint unsigned not null,
        amount_inr decimal(12,2) not null,
        created_at {_TIMESTAMP},
        updated_at {_UPDATED}
    ) {_TABLE_OPTIONS}""",
    f"""create table if not exists referrals (
        id bigint unsigned primary key,
        campaign_id varchar(64) not null,
        referrer_user_id int unsigned not null,
        referred_user_id int unsigned not null,
        status enum('pending', 'credited') not null,
        bonus_tokens bigint unsigned not null,
        created_at {_TIMESTAMP},
        updated_at {_UPDATED}
    ) {_TABLE_OPTIONS}""",
    f"""create table if not exists authorizations (
        id varchar(26) primary key comment 'ULID',
        user_id int unsigned not null,
        feature varchar(64) not null,
        amount bigint unsigned not null,
        status enum('created', 'held', 'captured', 'voided', 'expired') not null,
        created_at {_TIMESTAMP},
        updated_at {_UPDATED}
    ) {_TABLE_OPTIONS}""",
)


def is_mysql_url(url: str) -> bool:
    return url.partition("://")[0].lower() in SCHEMES


def connect(url: str) -> pymysql.Connection:
    """A PyMySQL connection in a UTC, utf8mb4 session (ingest's CONNECT_ARGS), strict: a
    value a column cannot hold fails the run instead of being clipped with a warning."""
    scheme, _, rest = url.partition("://")
    parsed = sa.engine.make_url(f"{scheme.split('+')[0]}+pymysql://{rest}")
    # SQLAlchemy's own reading of the URL: host, port, credentials, ?ssl_… options
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    conn = pymysql.connect(*args, **(kwargs | CONNECT_ARGS))
    with conn.cursor() as cur:
        cur.execute("set session sql_mode = 'TRADITIONAL'")
    return conn


def create_tables(conn) -> None:
    with conn.cursor() as cur:
        for statement in DDL:
            cur.execute(statement)


def _mysql_time(value: str | None) -> str | None:
    """The simulator's ISO 8601 UTC ('2026-03-29T14:03:22.123Z') as a TIMESTAMP literal of
    the UTC session ('2026-03-29 14:03:22.123')."""
    return None if value is None else f"{value[:10]} {value[11:23]}"


def _insert(table: str, columns: Sequence[str]) -> str:
    """One INSERT that PyMySQL's executemany turns into multi-row ones. A row already there
    stays (re-runs add what is missing) but a mutable one (with `status`) takes a newer
    status; MySQL applies the assignments left to right, so status is decided before
    updated_at moves. `id = id` rather than INSERT IGNORE, which would also turn a bad
    value into a warning."""
    names = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    if "status" in columns:
        update = (
            "status = if(values(updated_at) > updated_at, values(status), status), "
            "updated_at = greatest(updated_at, values(updated_at))"
        )
    else:
        update = "id = id"
    return f"insert into `{table}` ({names}) values ({marks}) on duplicate key update {update}"


class MySQLWriter:
    """`write(table, columns, rows)` like wallet._Writer: bulk INSERTs, never a round trip
    per row. executemany wrote ~80k rows/s on MariaDB 10.11 (1 day × 20,000 entries);
    LOAD DATA LOCAL INFILE ~1.6x that, but only 1.3x end to end (the simulation runs
    meanwhile), needs local_infile on server and client (MySQL 8 ships it off) and a
    temporary table to upsert through: not worth it."""

    def __init__(self, conn):
        self.conn = conn

    def write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> int:
        if not rows:
            return 0
        times = [i for i, c in enumerate(columns) if c in TIME_COLUMNS]
        statement = _insert(table, columns)
        with self.conn.cursor() as cur:
            for at in range(0, len(rows), BATCH_ROWS):
                batch = [list(row) for row in rows[at : at + BATCH_ROWS]]
                for row in batch:
                    for i in times:
                        row[i] = _mysql_time(row[i])
                cur.executemany(statement, batch)
        return len(rows)


def simulate_wallet_mysql(
    url: str,
    *,
    days: int = 30,
    events_per_day: int = 20_000,
    seed: int = 42,
    end: date | None = None,
    reset: bool = False,
    progress: Callable[[int, int], None] | None = None,
    bad_share: float = 1 / 5_000,
) -> WalletSimulation:
    """simulate_wallet on the MySQL/MariaDB database of `url`: the tables created if
    missing, emptied first with `reset`, the rows committed at the end."""
    window(end, days)  # a bad window fails before anything is emptied
    conn = connect(url)
    try:
        create_tables(conn)
        if reset:
            with conn.cursor() as cur:
                for table in TABLES:
                    cur.execute(f"truncate table `{table}`")
        options = {"days": days, "events_per_day": events_per_day, "seed": seed, "end": end}
        summary = simulate_into(
            MySQLWriter(conn),
            progress=progress,
            bad_share=bad_share,
            bad_kinds=BAD_KINDS,
            **options,
        )
        conn.commit()
        return summary
    finally:
        conn.close()
