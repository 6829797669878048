"""1M realistic gifts in raw.gift_analytics, generated set-based in SQL (generate_series).

Campaigns (a quarter without one: NULL), a funnel that drops off step by step with
log-normal delays, claims that come back a day later and so cross midnight, expiries and
returns, all cut off at midnight UTC today. Deterministic: setseed() first.
"""

from __future__ import annotations

from datetime import UTC, datetime, time

import psycopg

from dagster_project.ingest.redis_gifts import COLUMNS

CAMPAIGN_IDS = ["camp_5e1f0a21", "camp_9c03d7e4", "camp_17ab88c2", "camp_c0de5a11",
                "camp_4a7e2b90", "camp_e3d1c6f8", "camp_0b52a9d7", "camp_8f64e1a3"]  # fmt: skip
CAMPAIGN_NAMES = ["holiday2025", "genesis_drop", "creator_week", "web3_summit",
                  "telegram_airdrop", "edu_onboarding", "referral_boost", "valentines"]  # fmt: skip
COUNTRIES = ["US", "GB", "DE", "BR", "IN", "MX", "ES", "FR", "CA", "AR",
             "CO", "NG", "PH", "TR", "JP", "KR", "ID", "VN", "AU", "NL"]  # fmt: skip
SOURCES = ["twitter", "telegram", "direct", "discord", "email", "farcaster", "reddit", "whatsapp"]

# a standard normal draw (Box-Muller), evaluated afresh wherever it appears
Z = "(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"


def _minutes(median: float, sigma: float) -> str:
    """A log-normal delay as an interval."""
    return f"exp(ln({median}) + {sigma} * {Z}) * interval '1 minute'"


FILL_SQL = f"""
insert into raw.gift_analytics ({", ".join(["gift_id", *COLUMNS])}, redis_fields, redis_synced_at)
with base as (
    select
        i,
        -- more gifts on recent days (growth); evenings UTC busier than mornings
        %(cutoff)s::timestamptz
            - (1 + floor(%(days)s * power(random(), 0.8)))::int * interval '1 day'
            + 24 * sqrt(random()) * interval '1 hour' as created,
        case when random() < 0.25 then 0 else 1 + floor(8 * power(random(), 1.4))::int end
            as camp,
        random() as r_view, random() as r_pre, random() as r_pre_late, random() as r_edu,
        random() as r_claim, random() as r_claim_late, random() as r_exp, random() as r_ret,
        random() as r_dev
    from generate_series(1, %(n)s) as i
),
funnel as (
    select
        *,
        (array[0.70, 0.82, 0.74, 0.68, 0.88, 0.55, 0.78, 0.72, 0.60])[camp + 1] as view_rate,
        (array[0.86, 0.93, 0.88, 0.85, 0.96, 0.70, 0.97, 0.90, 0.80])[camp + 1] as claim_rate,
        case when r_exp < 0.2
            then created + (array[1, 3, 7])[1 + floor(3 * random())::int] * interval '1 day'
        end as expires
    from base
),
viewed as (
    select *, case when r_view < view_rate then created + {_minutes(40, 1.7)} end as v
    from funnel
),
preclaimed as (
    select *, case when r_pre < 0.80 then v + case when r_pre_late < 0.25
        then {_minutes(360, 1.0)} else {_minutes(2, 0.8)} end end as p
    from viewed
),
educated as (
    select *, case when r_edu < 0.88 then p + {_minutes(7, 0.5)} end as e
    from preclaimed
),
claimed as (
    select *, case when r_claim < claim_rate then e + case when r_claim_late < 0.15
        then {_minutes(1200, 0.8)} else {_minutes(1.5, 0.6)} end end as c,
        least(%(cutoff)s::timestamptz, expires) as step_limit
    from educated
),
capped as (
    select
        *,
        case when v < step_limit then v end as viewed_at,
        case when p < step_limit then p end as preclaim_at,
        case when e < step_limit then e end as education_at,
        case when c < step_limit then c end as claimed_at
    from claimed
),
ended as (
    select
        *,
        case when claimed_at is null and expires < %(cutoff)s then expires end as expired_at,
        case when r_ret < 0.35 then {_minutes(300, 1.2)} end as return_delay
    from capped
)
select
    'gft_' || lpad(to_hex(i), 16, '0'),
    1000 + i,
    (%(campaign_ids)s::text[])[camp],
    '0x' || lpad(to_hex(floor(power(random(), 2.5) * %(n)s / 12)::bigint), 40, '0'),
    created, viewed_at, preclaim_at, education_at, claimed_at, expired_at,
    case when expired_at + return_delay < %(cutoff)s then expired_at + return_delay end,
    case when claimed_at is not null then '0x' || md5(i::text) || left(md5((-i)::text), 8) end,
    case when random() < 0.18
        then '0x' || lpad(to_hex(floor(random() * %(n)s / 150)::bigint), 40, 'f') end,
    case when random() < 0.25 then round(exp(ln(15) + 0.8 * {Z})::numeric, 2)
        else (array[5, 10, 10.5, 20, 25, 50, 100])[1 + floor(7 * random())::int] end,
    case when random() < 0.6 then 'sha256:' || md5(i::text) || md5((7 * i)::text) end,
    case when r_dev < 0.62 then 'mobile' when r_dev < 0.95 then 'desktop' else 'tablet' end,
    (%(countries)s::text[])[1 + floor(20 * random())::int],
    (%(sources)s::text[])[1 + floor(8 * random())::int],
    (%(campaign_names)s::text[])[camp],
    %(fields)s::text[],
    now()
from ended
"""


def fill(conn: psycopg.Connection, n: int, days: int = 365, seed: float = 0.42) -> datetime:
    """Replace raw.gift_analytics with `n` generated gifts; returns the cut-off (midnight)."""
    cutoff = datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)
    conn.execute("truncate raw.gift_analytics, quarantine.gift_analytics")
    conn.execute("select setseed(%s)", [seed])
    params = {
        "n": n,
        "days": days,
        "cutoff": cutoff,
        "campaign_ids": CAMPAIGN_IDS,
        "campaign_names": CAMPAIGN_NAMES,
        "countries": COUNTRIES,
        "sources": SOURCES,
        "fields": list(COLUMNS),
    }
    conn.execute(FILL_SQL, params)
    conn.commit()
    return cutoff


def describe(conn: psycopg.Connection) -> str:
    row = conn.execute("""
        select count(*), count(*) filter (where campaign_id is null),
               round(100.0 * count(gift_claimed_at) / count(*), 1),
               count(*) filter (where gift_claimed_at::date > gift_created_at::date),
               min(gift_created_at)::date, max(gift_created_at)::date
        from raw.gift_analytics""").fetchone()
    conn.commit()
    return (
        f"{row[0]:,} gifts ({row[1]:,} without campaign, {row[2]}% claimed, "
        f"{row[3]:,} claims after the creation day), created {row[4]} .. {row[5]}"
    )
