"""Tables the Python side owns: landed data (`raw`), rejects (`quarantine`), state (`ops`).

dbt owns everything downstream; these tables exist before dbt first runs, so the
statements are idempotent and run at the start of every sync.
"""

from __future__ import annotations

import psycopg

SCHEMAS = ("raw", "quarantine", "ops")

DDL = """
create table if not exists raw.gift_analytics (
    -- seed 000's columns; gift_id is the key (the seed's UNIQUE), and the surrogate id
    -- keeps its default without an index: nothing looks rows up by it, and a random-uuid
    -- index costs every bulk upsert a scattered write per row.
    id uuid not null default gen_random_uuid(),
    gift_id text primary key,
    token_id integer,
    campaign_id text,
    gift_created_at timestamptz,
    gift_viewed_at timestamptz,
    preclaim_started_at timestamptz,
    education_completed_at timestamptz,
    gift_claimed_at timestamptz,
    gift_expired_at timestamptz,
    gift_returned_at timestamptz,
    creator_address text not null,
    claimer_address text,
    referrer_address text,
    value_usd numeric(20, 8) default 0,
    value_cgc numeric(20, 8) default 0,
    email_hash text,
    device_type text,
    country text,
    source text,
    campaign text,
    redis_synced_at timestamptz,
    redis_fields text[],
    blockchain_synced_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- No secondary indexes: raw is read whole by dbt, and Metabase reads marts, not raw.
comment on column raw.gift_analytics.redis_fields is
    'Fields the last synced Redis hash had; a field missing from it kept its landed value.';

create table if not exists quarantine.gift_analytics (
    gift_id text primary key,
    reject_reason text not null,
    raw_values jsonb not null,
    first_rejected_at timestamptz not null default now(),
    last_rejected_at timestamptz not null default now()
);

-- Rows of app-database tables that broke a rule on the way to raw (a NULL or repeated
-- primary key, a value the raw column's type cannot hold): the row as read, every value
-- as text. One row per distinct row read: a row re-read in the overlap window updates
-- last_rejected_at instead of adding itself again.
create table if not exists quarantine.source_rows (
    source text not null,
    source_table text not null,
    primary_key text,
    reject_reason text not null,
    raw_values jsonb not null,
    row_md5 text not null,
    quarantined_at timestamptz not null default now(),
    last_rejected_at timestamptz not null default now(),
    primary key (source, source_table, row_md5)
);

-- Mashups realtime counters (seed 004 `mashup:{id}:plays` / `:likes`) synced from Redis:
-- one row per sync batch, mashup and metric with the increments the batch took out of
-- Redis. Append-only; batch_id makes a resumed batch land once.
create table if not exists raw.mashups__realtime_counts (
    batch_id text not null,
    mashup_id text not null,
    metric text not null check (metric in ('plays', 'likes')),
    count bigint not null check (count > 0),
    synced_at timestamptz not null default now(),
    primary key (batch_id, mashup_id, metric)
);

-- Counter keys whose value is not a positive integer (text, a negative number, another
-- Redis type): left in Redis as they are, named here with the value read.
create table if not exists quarantine.mashups__realtime_counters (
    redis_key text primary key,
    reject_reason text not null,
    raw_value text,
    first_rejected_at timestamptz not null default now(),
    last_rejected_at timestamptz not null default now()
);

create table if not exists ops.sync_state (
    id text primary key,
    last_cursor text,
    last_run_at timestamptz,
    items_processed integer not null default 0,
    items_quarantined integer not null default 0,
    status text not null default 'idle' check (status in ('idle', 'running', 'error')),
    error_message text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

-- A ULID (48-bit millisecond time, then 80 random bits, Crockford base32) for rows
-- inserted by hand: an admin tool or a Metabase action can insert an export request
-- without an id.
create or replace function ops.new_ulid() returns text
language sql volatile as $$
    select string_agg(
        substr(
            '0123456789ABCDEFGHJKMNPQRSTVWXYZ',
            1 + case
                when i < 10 then ((ms >> (5 * (9 - i))) & 31)::int
                else floor(random() * 32)::int
            end,
            1
        ),
        '' order by i
    )
    from
        (select (extract(epoch from clock_timestamp()) * 1000)::bigint as ms) as now_ms,
        generate_series(0, 25) as i
$$;

-- Export requests (seed 002's analytics_exports): a request is a row; the
-- export_request_sensor turns a `preparing` one into an export_file run.
create table if not exists ops.export_requests (
    id text primary key default ops.new_ulid() check (length(id) = 26),
    requested_by text not null default current_user,
    type text not null default 'csv' check (type in ('csv', 'json')),
    dataset text not null,
    filters jsonb not null default '{}'::jsonb check (jsonb_typeof(filters) = 'object'),
    status text not null default 'preparing'
        check (status in ('preparing', 'ready', 'failed', 'expired')),
    estimated_rows bigint,
    actual_rows bigint,
    file_path text,
    expires_at timestamptz,
    error_code text
        check (error_code in ('validation_error', 'business_rule_violation', 'export_error')),
    error_message text,
    created_at timestamptz not null default now(),
    completed_at timestamptz
);
create index if not exists export_requests_status_idx on ops.export_requests (status);
create index if not exists export_requests_expires_at_idx on ops.export_requests (expires_at);
"""


TABLES = (
    "raw.gift_analytics",
    "quarantine.gift_analytics",
    "quarantine.source_rows",
    "raw.mashups__realtime_counts",
    "quarantine.mashups__realtime_counters",
    "ops.sync_state",
    "ops.export_requests",
)


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create schemas and EL-owned tables once; a lock keeps concurrent first runs apart.

    When they all exist nothing runs, so a sync role needs no DDL rights after setup.
    """
    if _all_exist(conn):
        return
    conn.execute("select pg_advisory_xact_lock(hashtext('analytics.ensure_tables'))")
    for schema in SCHEMAS:
        conn.execute(f"create schema if not exists {schema}")
    conn.execute(DDL)
    conn.commit()


def _all_exist(conn: psycopg.Connection) -> bool:
    found = conn.execute(
        "select count(to_regclass(t)) from unnest(%s::text[]) as t", [list(TABLES)]
    ).fetchone()[0]
    conn.commit()
    return found == len(TABLES)
