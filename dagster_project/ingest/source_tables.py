"""The app-database tables the extract-load reads: one declaration each (DESIGN.md §4).

A table declares its primary key (the upsert key in `raw`) and its cursor column: the
extract-load reads rows whose cursor is at or past the stored cursor minus `overlap`, so a
row that committed late with an earlier cursor value is still picked up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

DEFAULT_OVERLAP = timedelta(hours=1)


@dataclass(frozen=True)
class SourceTable:
    system: str  # cryptogift | yesgoddess | wallet | everreach | mashups
    table: str  # table name in the app database
    primary_key: tuple[str, ...]
    cursor: str  # a timestamp column (updated_at, created_at) or a monotonic id
    overlap: timedelta | int = DEFAULT_OVERLAP  # timedelta for timestamps, int for ids
    schema: str | None = None  # schema in the app database (None: the default one)
    # the column whose UTC day is a row's daily partition (event tables); the late-arrival
    # sensor re-builds the days of rows that land after their partition was built
    event_time: str | None = None
    # a late row for day d also changes this many days before d (a mart of that day
    # reads events past its window, e.g. purchases within 24 h of a paywall view)
    days_read_back: int = 0
    # more raw columns to index (join keys); `_loaded_at` and event_time always are
    indexes: tuple[str, ...] = ()
    # rows are hard-deleted at the source: each load compares keys (ingest/deletions.py)
    detect_deletes: bool = False

    @property
    def raw_indexes(self) -> tuple[str, ...]:
        return ("_loaded_at", *filter(None, [self.event_time]), *self.indexes)

    @property
    def raw_table(self) -> str:
        return f"{self.system}__{self.table}"

    @property
    def asset_key(self) -> list[str]:
        return ["raw", self.raw_table]

    @property
    def source_key(self) -> list[str]:
        """The app-database table as an external asset `[system, table]` upstream of raw."""
        return [self.system, self.table]

    @property
    def sync_id(self) -> str:
        return f"el:{self.raw_table}"

    @property
    def url_env(self) -> str:
        return f"SOURCE_{self.system.upper()}_URL"


# The app-database tables the warehouse loads (more systems join as their marts land).
SOURCE_TABLES: tuple[SourceTable, ...] = (
    # Event tables may deliver an event twice: ingest_seq (arrival order) is the row's
    # identity in the app database and in raw; the event id is deduplicated in staging.
    SourceTable("yesgoddess", "events", ("ingest_seq",), "created_at", event_time="occurred_at"),
    SourceTable(
        "yesgoddess", "attribution", ("id",), "created_at", indexes=("event_id", "created_at")
    ),
    SourceTable("everreach", "app_events", ("ingest_seq",), "created_at", event_time="occurred_at"),
    SourceTable("everreach", "prompts", ("prompt_id",), "created_at", event_time="created_at"),
    # prompt_id: retention keeps a prompt while a response still references it
    SourceTable(
        "everreach",
        "responses",
        ("response_id",),
        "created_at",
        event_time="created_at",
        indexes=("prompt_id",),
    ),
    # analytics_events has no arrival timestamp: its bigserial ingest_seq is the cursor,
    # with 1000 ids of overlap for transactions that commit out of sequence order
    SourceTable(
        "mashups",
        "analytics_events",
        ("ingest_seq",),
        "ingest_seq",
        overlap=1000,
        event_time="timestamp",
    ),  # fmt: skip
    SourceTable("mashups", "mashups", ("id",), "created_at"),
    # Wallet: the ledger is append-only (its day is its partition); purchases change status
    # (revenue counts on the purchase's created_at day, so a change rebuilds that day);
    # referrals and authorizations change status too, so they are read by updated_at.
    SourceTable("wallet", "users", ("id",), "created_at"),
    SourceTable("wallet", "wallet_ledger", ("id",), "occurred_at", event_time="occurred_at"),
    SourceTable(
        "wallet", "purchases", ("id",), "updated_at", event_time="created_at", detect_deletes=True
    ),
    SourceTable("wallet", "referrals", ("id",), "updated_at", detect_deletes=True),
    SourceTable("wallet", "authorizations", ("id",), "updated_at", detect_deletes=True),
    # CryptoGift's DAO side: tasks and referrals move through statuses (read by updated_at);
    # codes and rewards are written once. The mutable tables (and rewards, which an admin
    # may revoke) are checked for hard deletes.
    SourceTable("cryptogift", "tasks", ("id",), "updated_at", detect_deletes=True),
    SourceTable("cryptogift", "referral_codes", ("id",), "created_at"),
    SourceTable("cryptogift", "referrals", ("id",), "updated_at", detect_deletes=True),
    SourceTable("cryptogift", "referral_rewards", ("id",), "created_at", detect_deletes=True),
)
