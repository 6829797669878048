"""The gift marts as a person would write them by hand: two `create table … as select`
straight from raw, in one session. Same columns and values as the dbt models."""

from __future__ import annotations

import psycopg

SCHEMA = "bench_scratch"

FUNNEL = f"""
create table {SCHEMA}.hand_funnel as
select
    (gift_created_at at time zone 'UTC')::date as date,
    nullif(trim(campaign_id), '') as campaign_id,
    count(*) as total_created,
    count(gift_viewed_at) as total_viewed,
    count(preclaim_started_at) as total_preclaim,
    count(education_completed_at) as total_education,
    count(gift_claimed_at) as total_claimed,
    round(count(gift_claimed_at) * 100.0 / count(*), 2) as conversion_rate,
    round((avg(extract(epoch from gift_claimed_at - gift_created_at)) / 60)::numeric, 2)
        as avg_claim_time_min,
    coalesce(sum(value_usd), 0) as total_value_usd
from raw.gift_analytics
where gift_created_at is not null
group by 1, 2
"""

ACTIVITY = f"""
create table {SCHEMA}.hand_activity as
select
    (e.occurred_at at time zone 'UTC')::date as date,
    count(*) filter (where e.kind = 'created') as gifts_created,
    count(*) filter (where e.kind = 'viewed') as gifts_viewed,
    count(*) filter (where e.kind = 'preclaim') as gifts_preclaim,
    count(*) filter (where e.kind = 'education') as gifts_education,
    count(*) filter (where e.kind = 'claimed') as gifts_claimed,
    count(*) filter (where e.kind = 'expired') as gifts_expired,
    count(*) filter (where e.kind = 'returned') as gifts_returned
from raw.gift_analytics as g
cross join lateral (values
    ('created', g.gift_created_at), ('viewed', g.gift_viewed_at),
    ('preclaim', g.preclaim_started_at), ('education', g.education_completed_at),
    ('claimed', g.gift_claimed_at), ('expired', g.gift_expired_at),
    ('returned', g.gift_returned_at)
) as e (kind, occurred_at)
where e.occurred_at is not null
group by 1
"""

# (hand table, dbt relation) pairs whose contents must be identical
PAIRS = (
    (f"{SCHEMA}.hand_funnel", "marts.fct_gift_funnel_daily"),
    (f"{SCHEMA}.hand_activity", "marts.fct_gift_activity_daily"),
)


def drop(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"create schema if not exists {SCHEMA}")
        conn.execute(f"drop table if exists {SCHEMA}.hand_funnel, {SCHEMA}.hand_activity")


def build(url: str) -> None:
    """The timed part: one session, both tables, one commit."""
    with psycopg.connect(url) as conn:
        conn.execute(FUNNEL)
        conn.execute(ACTIVITY)
        conn.commit()


def mismatches(url: str) -> dict[str, int]:
    """Rows in either table of a pair but not the other (0 = the same result)."""
    out = {}
    with psycopg.connect(url) as conn:
        for hand, model in PAIRS:
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema || '.' || table_name = %s order by ordinal_position",
                    [hand],
                )
            ]
            sel = ", ".join(cols)
            sql = f"""select
                (select count(*) from (select {sel} from {hand}
                                       except all select {sel} from {model}) as a)
              + (select count(*) from (select {sel} from {model}
                                       except all select {sel} from {hand}) as b)"""
            out[model] = conn.execute(sql).fetchone()[0]
    return out
