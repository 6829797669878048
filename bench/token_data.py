"""Token-economy data for the token bench (issue 4): a year of wallet activity up to now,
made with set-based SQL in schema `bench_wallet` of the wallet app database (the
contract's tables, docs/SOURCES.md), then landed into `raw` by the
production extract-load.

The ledger: `rows` entries over the 365 closed days before today and today until now,
the same number per day (today's squeezed into the hours since midnight UTC), for
rows/100 users whose activity is Zipf-like (user rank r draws sessions ~ r^-0.6). Entries
come in sessions: runs of consecutive entries of one user (geometric, 8 on average; a
user active on a day mostly spends several times), so a user-day has ~8 entries. Per user,
entry 0 is the registration bonus (50 promo); then blocks of 20 entries: a purchase of
200/500/1000 regular tokens, then 19 debits of 1-10 tokens (chapter_generation,
image_generation, story_export; in the first block the first five spend the promo
bonus); in a quarter of the blocks entry 10 is a referral bonus (30 promo) and the next
three spend it. Every balance stays >= 0 (a debit never exceeds its type's balance), no
overdraft. One entry in 5,000 is bad (a negative amount, direction 'credt' or token_type
'bonus', in turn), placed just before a good entry and carrying the balances before it.
Purchases: one `paid` per purchase credit plus ~10% failed or pending ones; referrals:
one `credited` per referral bonus plus ~20% pending; authorizations: one `captured` per
debit (its reference_id) plus ~3% voided or expired.

Deterministic for a given seed, row count and day (pseudo-randomness from
hashint8extended, no random()); the times follow the clock: today's rows end at now.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import psycopg
from psycopg import sql

from bench.environment import BENCH_DB, Target
from bench.timing import progress, timed
from dagster_project.ingest.extract_load import extract_load, source_engine
from dagster_project.ingest.source_tables import SOURCE_TABLES, SourceTable
from dagster_project.local import services
from dagster_project.simulate.wallet import create_tables

SCHEMA = "bench_wallet"
SEED = 11
DAYS = 365  # closed days before today
USERS_PER_ROW = 1 / 100
BAD_EVERY = 5_000
SESSION_MEAN = 8  # entries a user makes in one sitting, on average (geometric)

# u01(i, salt): a uniform [0, 1) draw; ulid_ms(ms, i, salt): 10 Crockford base32
# characters of the milliseconds + 16 hex digits (valid Crockford characters) of a hash.
FUNCTIONS = """
create function u01(i bigint, salt bigint) returns float8
    language sql immutable parallel safe
    return ((hashint8extended(i, salt) >> 11) & 9007199254740991)::float8
           / 9007199254740992.0;
"""
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID_TIME = "\n        || ".join(
    f"substr('{_CROCKFORD}', ((ms >> {shift}) & 31)::int + 1, 1)" for shift in range(45, -1, -5)
)
FUNCTIONS += f"""
create function ulid_ms(ms bigint, i bigint, salt bigint) returns text
    language sql immutable parallel safe
    return {_ULID_TIME}
        || upper(lpad(to_hex(hashint8extended(i, salt)), 16, '0'));
"""

# Entry i of the good ones: its time (uniform per day, increasing with i) and user.
ENTRIES_SQL = """
create unlogged table gen as
with starts as (
    select i, i = 1 or u01(i, %(seed)s + 16) < 1.0 / %(session)s as starts
    from generate_series(1::bigint, %(n_good)s) as i
),

sessions as (
    select i, count(*) filter (where starts) over (order by i rows unbounded preceding) as session
    from starts
),

draws as (
    select
        i,
        case when i <= %(n_closed)s
            then to_timestamp(%(start)s + (i - 1) * %(closed_step)s)
            else to_timestamp(%(today)s + (i - %(n_closed)s - 1) * %(today_step)s)
        end as occurred_at,
        least(%(users)s, 1 + floor(%(users)s * power(u01(session, %(seed)s), 2.5)))::bigint
            as user_id
    from sessions
),

numbered as (
    select *, row_number() over (partition by user_id order by i) - 1 as k
    from draws
),

kinds as (
    select
        *,
        (k - 1) / 20 as block,
        (k - 1) %% 20 as slot,
        u01(user_id * 100003 + (k - 1) / 20, %(seed)s + 1) < 0.25 as referral_block,
        u01(i, %(seed)s + 3) as f
    from numbered
),

typed as (
    select
        i, occurred_at, user_id, k,
        case
            when k = 0 then 'registration_bonus'
            when slot = 0 then 'purchase'
            when referral_block and slot = 10 then 'referral_bonus'
            when f < 0.5 then 'chapter_generation'
            when f < 0.85 then 'image_generation'
            else 'story_export'
        end as reason,
        case
            when k = 0 then 'promo'
            when slot = 0 then 'regular'
            when block = 0 and slot between 1 and 5 then 'promo'
            when referral_block and slot between 10 and 13 then 'promo'
            else 'regular'
        end as token_type,
        case
            when k = 0 then 50
            when slot = 0 then (array[200, 500, 1000])[1 + floor(u01(i, %(seed)s + 2) * 3)::int]
            when referral_block and slot = 10 then 30
            when f < 0.5 then 5 + floor(u01(i, %(seed)s + 4) * 6)::int
            when f < 0.85 then 2 + floor(u01(i, %(seed)s + 4) * 4)::int
            else 1 + floor(u01(i, %(seed)s + 4) * 3)::int
        end::bigint as amount,
        k = 0 or slot = 0 or (referral_block and slot = 10) as is_credit
    from kinds
)

select
    i, occurred_at, (extract(epoch from occurred_at) * 1000)::bigint as ms,
    user_id, k, reason, token_type, amount,
    case when is_credit then 'credit' else 'debit' end as direction,
    sum(case when token_type = 'regular' then case when is_credit then amount else -amount end
             else 0 end)
        over (partition by user_id order by i rows unbounded preceding) as balance_regular,
    sum(case when token_type = 'promo' then case when is_credit then amount else -amount end
             else 0 end)
        over (partition by user_id order by i rows unbounded preceding) as balance_promo
from typed
"""

LEDGER_SQL = """
insert into wallet_ledger
with good as (
    select
        ulid_ms(ms, i, %(seed)s) as id, user_id, token_type, direction, reason, amount,
        balance_regular, balance_promo,
        case
            when reason = 'purchase' then i::text
            when reason = 'referral_bonus' then i::text
            when direction = 'debit' then ulid_ms(ms - 2000, i, %(seed)s + 5)
        end as reference_id,
        case when direction = 'debit'
            then jsonb_build_object('client', (array['web', 'android', 'ios'])[1 + i %% 3])
        end as metadata,
        occurred_at
    from gen
),

-- a bad entry just before good entry i (1 ms earlier), with the balances before it
bad as (
    select
        ulid_ms(ms - 1, -i, %(seed)s) as id, user_id,
        case when n %% 3 = 2 then 'bonus' else token_type end as token_type,
        case when n %% 3 = 1 then 'credt' else direction end as direction,
        reason,
        case when n %% 3 = 0 then -amount else amount end as amount,
        balance_regular - case when token_type = 'regular' then
            case direction when 'credit' then amount else -amount end else 0 end,
        balance_promo - case when token_type = 'promo' then
            case direction when 'credit' then amount else -amount end else 0 end,
        null as reference_id,
        null::jsonb as metadata,
        occurred_at - interval '1 ms'
    from gen
    join generate_series(1::bigint, %(n_bad)s) as n
        on gen.i = n * (%(n_good)s / (%(n_bad)s + 1))
)

select * from (select * from good union all select * from bad) as entries
order by occurred_at
"""

OTHERS_SQL = """
insert into users
select
    u,
    'user_' || u,
    (array['asha', 'ravi', 'meera', 'arjun', 'kavya', 'rohan', 'diya', 'vikram'])
        [1 + u %% 8] || '.' ||
    (array['sharma', 'iyer', 'patel', 'reddy', 'nair', 'gupta', 'das'])[1 + u %% 7]
        || u || '@' || (array['gmail.com', 'yahoo.in', 'outlook.com'])[1 + u %% 3],
    case when u %% 10000 = 7 then 'admin' else 'user' end,
    coalesce(first.at - interval '1 minute',
             to_timestamp(%(start)s + u01(u, %(seed)s + 6) * %(span)s))
from generate_series(1::bigint, %(users)s) as u
left join (select user_id, min(occurred_at) as at from gen where k = 0 group by user_id) as first
    on first.user_id = u;

insert into purchases
select
    i, user_id,
    case when u01(i, %(seed)s + 7) < 0.7 then 'razorpay' else 'stripe' end,
    'paid', amount,
    case amount when 200 then 99 when 500 then 229 else 399 end,
    occurred_at - interval '30 s', occurred_at
from gen where reason = 'purchase'
union all
select
    i + %(n_good)s, user_id,
    case when u01(i, %(seed)s + 7) < 0.7 then 'razorpay' else 'stripe' end,
    (array['failed', 'failed', 'pending', 'created'])[1 + floor(u01(i, %(seed)s + 8) * 4)::int],
    amount,
    case amount when 200 then 99 when 500 then 229 else 399 end,
    occurred_at - interval '10 min', occurred_at - interval '9 min'
from gen where reason = 'purchase' and u01(i, %(seed)s + 9) < 0.1;

insert into referrals
select
    i, 'camp_' || (i %% 7), user_id,
    1 + floor(u01(i, %(seed)s + 10) * %(users)s)::bigint,
    'credited', amount, occurred_at - interval '2 hours', occurred_at
from gen where reason = 'referral_bonus'
union all
select
    i + %(n_good)s, 'camp_' || (i %% 7), user_id,
    1 + floor(u01(i, %(seed)s + 11) * %(users)s)::bigint,
    'pending', 30, occurred_at, occurred_at
from gen where reason = 'referral_bonus' and u01(i, %(seed)s + 12) < 0.2;

insert into authorizations
select
    ulid_ms(ms - 2000, i, %(seed)s + 5), user_id, reason, amount,
    'captured', occurred_at - interval '2 s', occurred_at
from gen where direction = 'debit'
union all
select
    ulid_ms(ms - 5000, i, %(seed)s + 13), user_id, reason, amount,
    case when u01(i, %(seed)s + 14) < 0.5 then 'voided' else 'expired' end,
    occurred_at - interval '5 s', occurred_at - interval '4 s'
from gen where direction = 'debit' and u01(i, %(seed)s + 15) < 0.03;

create index if not exists wallet_ledger_occurred_at_idx on wallet_ledger (occurred_at);
"""


@dataclass
class Generated:
    rows: int  # ledger rows
    users: int
    active_users: int  # users with at least one entry
    bad: int
    today: date
    today_rows: int
    days: int  # days with entries (the closed ones and today)
    purchases: int
    referrals: int
    authorizations: int
    seconds: float
    reused: bool = False

    def describe(self) -> str:
        how = "reused" if self.reused else f"made in {self.seconds:.0f}s"
        return (
            f"{self.rows:,} ledger rows ({self.bad:,} bad) over {self.days} days, "
            f"{self.today_rows:,} today until now; {self.users:,} users "
            f"({self.active_users:,} active); {self.purchases:,} purchases, "
            f"{self.referrals:,} referrals, {self.authorizations:,} authorizations ({how})"
        )


def source_url(target: Target) -> str:
    """The wallet app database of the embedded server; with a WAREHOUSE_URL of the user's
    or in the smoke run, the bench database itself (as the event bench does), never a
    SOURCE_WALLET_URL."""
    if target.user_url or target.smoke:
        return target.warehouse_url
    return services.start_postgres().postgres_url("wallet")


def refuse_foreign_data(target: Target, force: bool) -> None:
    """The token bench truncates raw.wallet__* and rebuilds the wallet marts: on a
    user-given database not named `bench` whose ledger holds rows, refuse unless --force."""
    if force or not target.user_url or target.database == BENCH_DB:
        return
    with target.connect() as conn:
        exists = conn.execute("select to_regclass('raw.wallet__wallet_ledger')").fetchone()[0]
        rows = exists and conn.execute("select exists (select from raw.wallet__wallet_ledger)")
        if rows and rows.fetchone()[0]:
            raise SystemExit(
                f"bench: WAREHOUSE_URL points at database {target.database!r}, whose "
                "raw.wallet__wallet_ledger holds data; the token bench would truncate it. "
                "Point WAREHOUSE_URL at a scratch database or pass --force."
            )


def specs() -> list[SourceTable]:
    return [replace(s, schema=SCHEMA) for s in SOURCE_TABLES if s.system == "wallet"]


def _connect(url: str, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=autocommit, application_name="analytics-bench")


def _summary(conn: psycopg.Connection, seconds: float) -> Generated:
    q = sql.SQL
    ident = sql.Identifier
    ledger = ident(SCHEMA, "wallet_ledger")
    rows, bad, users_active, days, first = conn.execute(
        q(
            "select count(*), count(*) filter (where amount <= 0 or direction not in "
            "('credit', 'debit') or token_type not in ('regular', 'promo')), "
            "count(distinct user_id), count(distinct (occurred_at at time zone 'utc')::date), "
            "max(occurred_at) from {}"
        ).format(ledger)  # fmt: skip
    ).fetchone()
    today = first.astimezone(UTC).date() if first else datetime.now(UTC).date()
    since = datetime.combine(today, datetime.min.time(), UTC)
    today_rows = conn.execute(
        q("select count(*) from {} where occurred_at >= %s").format(ledger), [since]
    ).fetchone()[0]
    counts = {
        t: conn.execute(q("select count(*) from {}").format(ident(SCHEMA, t))).fetchone()[0]
        for t in ("users", "purchases", "referrals", "authorizations")
    }
    return Generated(
        rows, counts["users"], users_active, bad, today, today_rows, days,
        counts["purchases"], counts["referrals"], counts["authorizations"], seconds,
    )  # fmt: skip


def existing(target: Target, rows: int) -> Generated | None:
    """The data of an earlier run, if it has `rows` ledger rows and today's date."""
    with _connect(source_url(target)) as conn:
        if not conn.execute("select to_regclass(%s)", [f"{SCHEMA}.users"]).fetchone()[0]:
            return None
        found = _summary(conn, 0.0)
    if found.rows != rows or found.today != datetime.now(UTC).date():
        return None
    found.reused = True
    return found


def generate(target: Target, rows: int, seed: int = SEED) -> Generated:
    """Untimed: replace schema bench_wallet of the wallet app database with fresh data."""
    now = datetime.now(UTC)
    today = now.date()
    midnight = datetime.combine(today, datetime.min.time(), UTC)
    start = midnight - timedelta(days=DAYS)
    n_bad = max(3, rows // BAD_EVERY) if rows >= 3 * 1000 else 0
    n_good = rows - n_bad
    n_today = max(1, round(n_good / (DAYS + 1)))
    n_closed = n_good - n_today
    today_span = max(1.0, (now - midnight).total_seconds() - 1)
    params = {
        "seed": seed,
        "session": SESSION_MEAN,
        "users": max(100, int(rows * USERS_PER_ROW)),
        "n_good": n_good,
        "n_bad": max(1, n_bad),
        "n_closed": n_closed,
        "start": start.timestamp(),
        "span": (now - start).total_seconds(),
        "today": midnight.timestamp(),
        "closed_step": DAYS * 86400 / n_closed,
        "today_step": today_span / n_today,
    }

    ledger_sql = LEDGER_SQL if n_bad else LEDGER_SQL.replace("union all select * from bad", "")

    def fill() -> Generated:
        with _connect(source_url(target)) as conn:
            conn.execute("set work_mem = '1GB'")
            conn.execute("set maintenance_work_mem = '1GB'")
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(SCHEMA)))
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(SCHEMA)))
            conn.execute(sql.SQL("set search_path to {}").format(sql.Identifier(SCHEMA)))
            create_tables(conn, schema=SCHEMA)  # the simulator's: the app's own tables
            conn.execute(FUNCTIONS)
            cur = psycopg.ClientCursor(conn)  # client-side binding: several statements
            for step, statement in (
                ("entries", ENTRIES_SQL),
                ("ledger", ledger_sql),
                ("users, purchases, referrals, authorizations", OTHERS_SQL),
            ):
                seconds, _ = timed(lambda s=statement: cur.execute(s, params))
                progress(f"generated {step} in {seconds:.1f}s")
            conn.execute("drop table gen")
            conn.commit()
            conn.execute("reset search_path")
            return _summary(conn, 0.0)

    seconds, generated = timed(fill)
    generated.seconds = seconds
    with _connect(source_url(target), autocommit=True) as conn:
        conn.execute(sql.SQL("vacuum analyze {}").format(sql.Identifier(SCHEMA, "wallet_ledger")))
    return generated


def reset_raw(target: Target) -> None:
    """Empty raw.wallet__* (kept with their indexes) and forget their extract-load cursors,
    so the next load is a first one."""
    with target.connect(autocommit=True) as conn:
        for spec in specs():
            if conn.execute("select to_regclass(%s)", [f"raw.{spec.raw_table}"]).fetchone()[0]:
                conn.execute(sql.SQL("truncate {}").format(sql.Identifier("raw", spec.raw_table)))
            if conn.execute("select to_regclass('ops.sync_state')").fetchone()[0]:
                conn.execute("delete from ops.sync_state where id = %s", [spec.sync_id])


@dataclass
class Landed:
    rows: dict[str, int]  # raw table -> rows landed
    seconds: dict[str, float]


def land(target: Target) -> Landed:
    """The production extract-load of the five wallet tables (each timed), then vacuum
    analyze of raw (the state autovacuum leaves before the nightly run)."""
    engine = source_engine(source_url(target))
    landed = Landed({}, {})
    try:
        for spec in specs():
            with target.connect() as conn:
                seconds, result = timed(lambda s=spec, c=conn: extract_load(c, engine, s))
            landed.rows[spec.raw_table] = result.rows
            landed.seconds[spec.raw_table] = seconds
            progress(f"extract-load {spec.raw_table}: {result.rows:,} rows in {seconds:.1f}s")
    finally:
        engine.dispose()
    with target.connect(autocommit=True) as conn:
        for spec in specs():
            conn.execute(sql.SQL("vacuum analyze {}").format(sql.Identifier("raw", spec.raw_table)))
    return landed


def raw_matches(target: Target, generated: Generated) -> bool:
    with contextlib.suppress(psycopg.errors.UndefinedTable), target.connect() as conn:
        n = conn.execute("select count(*) from raw.wallet__wallet_ledger").fetchone()[0]
        return n == generated.rows
    return False
