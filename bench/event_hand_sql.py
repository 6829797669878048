"""The daily event marts as a person would write them by hand: one `create table
bench_hand.<mart> as select …` each, straight from `raw` (and the taxonomy / alias seeds),
doing what the models do — the validity rules of the base views, first arrival per
(event time, id), the day's window on the indexed event time, the aggregation. Written
from the models' definitions, not from dbt's compiled SQL.

The two YesGoddess marts that need a session's landing read the day before too (the
landing of a session that crossed midnight), as `int_sessions_attributed` does; the
rolling active users read the hand-built user-day table, as the model reads its own.

The validity tests are phrased `coalesce(<test>, <default>)`: the planner estimates such a
boolean at 1/2, where `jsonb_typeof(…) in (…)` would be guessed at 1/200 each, and
estimates of a handful of rows make it pick nested loops over a million."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from bench.timing import timed

SCHEMA = "bench_hand"

# usable YesGoddess events between {lo} and {hi}, first arrival of each ({more}: columns
# only the owner and user marts read, left out of the others' sorts)
YG_EVENTS = """
    select distinct on (r.occurred_at, r.id)
        r.id, r.session_id, r.actor_id, r.project_id, r.ip_asset_id, r.license_id,
        r.event_type, r.occurred_at,{more}
        (r.occurred_at at time zone 'utc')::date as date,
        coalesce('actor:' || r.actor_id, 'session:' || r.session_id) as visitor_key,
        coalesce(r.props_json ->> 'revenueCents', r.props_json ->> 'revenue_cents')::numeric
            as revenue_cents,
        coalesce(r.props_json ->> 'engagementMs', r.props_json ->> 'engagement_ms')::numeric
            as engagement_ms
    from raw.yesgoddess__events as r
    where
        r.occurred_at >= {lo} and r.occurred_at < {hi}
        and r.occurred_at <= r.created_at + interval '1 day'
        and r.event_type in (select event_type from staging.yesgoddess_event_types)
        and coalesce(jsonb_typeof(r.props_json) = 'object', false)
        and coalesce(jsonb_typeof(coalesce(
            nullif(r.props_json -> 'revenueCents', 'null'), r.props_json -> 'revenue_cents'
        )) in ('number', 'null'), true)
        and coalesce(jsonb_typeof(coalesce(
            nullif(r.props_json -> 'engagementMs', 'null'), r.props_json -> 'engagement_ms'
        )) in ('number', 'null'), true)
    order by r.occurred_at, r.id, r.ingest_seq
"""

# the landing attribution of each session with a landing in [{lo} - 1 day, {hi})
YG_SESSIONS = """
    select distinct on (e.session_id)
        e.session_id,
        coalesce(al.utm_source, lower(nullif(trim(a.utm_source), ''))) as utm_source,
        lower(nullif(trim(a.utm_medium), '')) as utm_medium,
        lower(nullif(trim(a.utm_campaign), '')) as utm_campaign,
        coalesce(nullif(a.device_type, ''), ua.device_type) as device_type,
        coalesce(nullif(a.browser, ''), ua.browser) as browser,
        coalesce(nullif(a.os, ''), ua.os) as os
    from raw.yesgoddess__attribution as a
    inner join e on a.event_id = e.id
    left join raw.user_agents as ua on a.user_agent = ua.user_agent
    left join staging.utm_source_aliases as al on lower(trim(a.utm_source)) = al.alias
    where a.created_at >= {lo} - interval '1 day'
    order by e.session_id, e.occurred_at
"""

# usable Mashups events between {lo} and {hi}, first arrival of each
MU_EVENTS = """
    select distinct on (r.timestamp, r.id)
        r.id, r.user_id, r.session_id, r.event_type, r.timestamp as occurred_at,
        (r.timestamp at time zone 'utc')::date as date,
        r.properties ->> 'mashup_id' as mashup_id,
        r.properties ->> 'source' as traffic_source,
        r.properties ->> 'country' as country,
        r.properties ->> 'device' as device,
        r.properties ->> 'creator_id' as followed_creator_id,
        case when jsonb_typeof(r.properties -> 'position') = 'number'
            then (r.properties -> 'position')::numeric end as position_seconds,
        coalesce(r.user_id, 'session:' || r.session_id) as user_key
    from raw.mashups__analytics_events as r
    where
        r.timestamp >= {lo} and r.timestamp < {hi}
        and r.timestamp <= coalesce(r.received_at, r._loaded_at) + interval '1 day'
        and r.event_type in (select event_type from staging.mashups_event_types)
        and coalesce(jsonb_typeof(r.properties) = 'object', false)
        and coalesce(jsonb_typeof(r.properties -> 'mashup_id') in ('string', 'null'), true)
        and coalesce(jsonb_typeof(r.properties -> 'creator_id') in ('string', 'null'), true)
        and coalesce(jsonb_typeof(r.properties -> 'position') in ('number', 'null'), true)
        and coalesce(jsonb_typeof(r.properties -> 'duration') in ('number', 'null'), true)
        and coalesce(jsonb_typeof(r.properties -> 'autoPlay') in ('boolean', 'null'), true)
    order by r.timestamp, r.id, r.ingest_seq
"""

# usable EverReach app events between {lo} and {hi}, first arrival of each
EV_EVENTS = """
    select distinct on (r.occurred_at, r.id)
        r.id, r.event_name, r.user_id, r.occurred_at,
        (r.occurred_at at time zone 'utc')::date as date,
        coalesce(r.user_id, 'anon:' || r.anonymous_id) as user_key,
        r.properties ->> 'placement' as placement,
        r.properties ->> 'response_id' as response_id
    from raw.everreach__app_events as r
    where
        r.occurred_at >= {lo} and r.occurred_at < {hi}
        and r.occurred_at <= r.created_at + interval '1 day'
        and r.event_name in (select event_name from staging.everreach_event_types)
        and coalesce(r.user_id, r.anonymous_id) is not null
        and coalesce(jsonb_typeof(r.properties) = 'object', false)
        and coalesce(jsonb_typeof(r.context) = 'object', false)
        and coalesce(jsonb_typeof(r.properties -> 'placement') in ('string', 'null'), true)
        and coalesce(jsonb_typeof(r.properties -> 'response_id') in ('string', 'null'), true)
    order by r.occurred_at, r.id, r.ingest_seq
"""

# emails, then phone numbers, in free text (macros/pii.sql's rule, written out)
REDACT = (
    "regexp_replace(regexp_replace({0}, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{{{{2,}}}}', "
    "'[email]', 'g'), '\\+?[0-9][0-9 ().-]{{{{7,}}}}[0-9]', '[phone]', 'g')"
)

PLAYS_BY = """
with e as ({events})
select
    date, {column}, plays, sessions, listeners,
    round(plays * 100.0 / sum(plays) over (partition by date), 2) as percentage
from (
    select
        date, coalesce({field}, 'unknown') as {column},
        count(*) as plays,
        count(distinct session_id) as sessions,
        count(distinct user_key) as listeners
    from e
    where event_type = 'mashup_played'
    group by 1, 2
) as by_value
"""


@dataclass(frozen=True)
class HandMart:
    model: str  # the dbt model it stands for
    systems: tuple[str, ...]  # the raw event tables it reads
    body: str  # the select, with {yg} / {yg_wide} / {yg_props} / {mu} / {lo} / {hi} / {day}
    days: int = 1  # days of the mart compared from the window's start (lookahead + 1)


MARTS: tuple[HandMart, ...] = (
    HandMart(
        "fct_daily_metrics",
        ("yesgoddess",),
        """
with e as ({yg})
select
    date, project_id, ip_asset_id, license_id,
    count(*) filter (where event_type = 'asset_viewed') as views,
    count(*) filter (where event_type in ('asset_downloaded', 'license_clicked')) as clicks,
    count(*) filter (where event_type = 'license_created') as conversions,
    coalesce(sum(revenue_cents), 0)::bigint as revenue_cents,
    count(distinct visitor_key) as unique_visitors,
    round(coalesce(sum(engagement_ms), 0) / 1000.0, 3) as engagement_time,
    jsonb_build_object(
        'events', count(*),
        'sessions', count(distinct session_id),
        'anonymous_visitors', count(distinct visitor_key) filter (where actor_id is null),
        'conversions_without_revenue', count(*) filter (
            where event_type = 'license_created' and revenue_cents is null)
    ) as metadata
from e
group by 1, 2, 3, 4
""",
    ),
    HandMart(
        "fct_campaign_performance_daily",
        ("yesgoddess",),
        """
with e as ({yg_wide}),
sessions as ({yg_sessions})
select
    e.date, s.utm_source, s.utm_medium, s.utm_campaign,
    count(distinct e.session_id) as sessions,
    count(distinct e.visitor_key) as unique_visitors,
    count(*) filter (where e.event_type = 'asset_viewed') as views,
    count(*) filter (where e.event_type in ('asset_downloaded', 'license_clicked')) as clicks,
    count(*) filter (where e.event_type = 'license_created') as conversions,
    count(distinct e.session_id) filter (where e.event_type = 'license_created')
        as converting_sessions,
    coalesce(sum(e.revenue_cents), 0)::bigint as revenue_cents,
    round(100.0 * count(distinct e.session_id) filter (where e.event_type = 'license_created')
        / count(distinct e.session_id), 2) as conversion_rate
from e
inner join sessions as s on e.session_id = s.session_id
where e.occurred_at >= {lo}
group by 1, 2, 3, 4
""",
    ),
    HandMart(
        "fct_traffic_by_device_daily",
        ("yesgoddess",),
        """
with e as ({yg_wide}),
sessions as ({yg_sessions})
select
    e.date,
    coalesce(s.device_type, 'unknown') as device_type,
    coalesce(s.browser, 'unknown') as browser,
    coalesce(s.os, 'unknown') as os,
    count(distinct e.session_id) as sessions,
    count(distinct e.visitor_key) as unique_visitors,
    count(*) as events,
    count(*) filter (where e.event_type = 'asset_viewed') as views,
    count(*) filter (where e.event_type = 'license_created') as conversions,
    coalesce(sum(e.revenue_cents), 0)::bigint as revenue_cents
from e
left join sessions as s on e.session_id = s.session_id
where e.occurred_at >= {lo}
group by 1, 2, 3, 4
""",
    ),
    HandMart(
        "fct_asset_uploads",
        ("yesgoddess",),
        """
with e as ({yg_props})
select
    id as event_id, ip_asset_id, project_id, date, actor_id as creator_id,
    occurred_at as uploaded_at,
    -- staging scrubs PII from the string props it passes on
    case when jsonb_typeof(props_json -> 'media_type') = 'string'
        then """
        + REDACT.format("props_json ->> 'media_type'")
        + """
        else props_json ->> 'media_type' end as media_type
from e
where event_type = 'asset_uploaded' and ip_asset_id is not null
""",
    ),
    HandMart(
        "fct_project_creations",
        ("yesgoddess",),
        """
with e as ({yg_props})
select
    id as event_id, project_id, date, actor_id as brand_id, occurred_at as created_at,
    case when jsonb_typeof(props_json -> 'budget_cents') = 'number'
        then (props_json ->> 'budget_cents')::numeric end as budget_cents
from e
where event_type = 'project_created' and project_id is not null
""",
    ),
    HandMart(
        "fct_platform_users_daily",
        ("yesgoddess",),
        """
with e as ({yg_props})
select
    date, actor_id as user_id, actor_type,
    count(*) as events,
    bool_or(event_type = 'signup_completed') as signed_up
from e
where actor_id is not null
group by 1, 2, 3
""",
    ),
    HandMart(
        "fct_mashup_daily_stats",
        ("mashups",),
        """
with e as ({mu})
select
    mashup_id, date,
    count(*) filter (where event_type = 'mashup_played') as plays,
    count(distinct user_key) filter (where event_type = 'mashup_played') as unique_plays,
    count(*) filter (where event_type = 'mashup_liked') as likes,
    count(*) filter (where event_type = 'mashup_shared') as shares,
    count(*) filter (where event_type = 'comment_posted') as comments,
    count(*) filter (where event_type = 'mashup_downloaded') as downloads,
    round(avg(position_seconds) filter (
        where event_type in ('mashup_play_completed', 'mashup_skipped')), 1) as avg_watch_time,
    count(*) filter (where event_type = 'mashup_viewed') as views,
    count(*) filter (where event_type = 'mashup_play_completed') as completions,
    count(*) filter (where event_type = 'mashup_skipped') as skips
from e
where mashup_id is not null and event_type in (
    'mashup_viewed', 'mashup_played', 'mashup_play_completed', 'mashup_skipped',
    'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_downloaded')
group by 1, 2
""",
    ),
    HandMart(
        "fct_mashup_countries_daily",
        ("mashups",),
        PLAYS_BY.format(events="{mu}", column="country", field="country"),
    ),
    HandMart(
        "fct_mashup_devices_daily",
        ("mashups",),
        PLAYS_BY.format(events="{mu}", column="device", field="device"),
    ),
    HandMart(
        "fct_mashup_traffic_sources_daily",
        ("mashups",),
        PLAYS_BY.format(events="{mu}", column="source", field="traffic_source"),
    ),
    HandMart(
        "fct_mashup_plays_hourly",
        ("mashups",),
        """
with e as ({mu})
select
    date,
    extract(hour from occurred_at at time zone 'utc')::int as hour_of_day,
    count(*) as plays,
    count(distinct user_key) as listeners
from e
where event_type = 'mashup_played'
group by 1, 2
""",
    ),
    HandMart(
        "fct_user_daily_stats",
        ("mashups",),
        """
with e as ({mu}),
parts as (
    select user_id, date, 1 as created, 0 as received, null::text as follower
    from e where event_type = 'mashup_created' and user_id is not null
    union all
    select m.creator_id, e.date, 0, 1, null
    from e inner join raw.mashups__mashups as m on e.mashup_id = m.id
    where e.event_type = 'mashup_played'
    union all
    select followed_creator_id, date, 0, 0, user_key
    from e where event_type = 'user_followed' and followed_creator_id is not null
)
select
    user_id, date,
    sum(created) as mashups_created,
    sum(received) as plays_received,
    count(distinct follower) as followers_gained
from parts
group by 1, 2
""",
    ),
    HandMart(
        "ml_response_samples",
        ("everreach",),
        """
with responses as (
    select
        response_id, prompt_id, user_id, model, created_at,
        left("""
        + REDACT.format("text")
        + """, 5000) as response_text,
        tokens_out::integer as tokens_out, cost_usd::numeric as cost_usd,
        latency_ms::integer as latency_ms, finish_reason,
        (created_at at time zone 'utc')::date as date
    from raw.everreach__responses
    where created_at >= {lo} and created_at < {hi}
),
feedback as (
    select
        response_id,
        count(*) filter (where event_name = 'response_copied') as copied_count,
        count(*) filter (where event_name = 'response_liked') as liked_count,
        count(*) filter (where event_name = 'response_disliked') as disliked_count,
        min(occurred_at) filter (where event_name = 'response_rendered') as rendered_at,
        min(occurred_at) filter (where event_name <> 'response_rendered') as first_feedback_at
    from ({ev_open}) as e
    where event_name in (
        'response_rendered', 'response_copied', 'response_liked', 'response_disliked')
        and response_id in (select response_id from responses)
    group by response_id
)
select
    r.date, r.response_id, r.prompt_id, r.user_id, r.model, r.created_at,
    left("""
        + REDACT.format("p.text")
        + """, 5000) as prompt_text,
    r.response_text, r.tokens_out, r.cost_usd, r.latency_ms, r.finish_reason,
    coalesce(f.copied_count, 0) as copied_count,
    coalesce(f.liked_count, 0) as liked_count,
    coalesce(f.disliked_count, 0) as disliked_count,
    coalesce(f.liked_count, 0) - coalesce(f.disliked_count, 0) as helpful_score,
    coalesce(f.copied_count, 0) > 0 as was_copied,
    case when f.first_feedback_at >= f.rendered_at then round(
        extract(epoch from f.first_feedback_at - f.rendered_at) * 1000)::bigint end as dwell_ms
from responses as r
left join raw.everreach__prompts as p on r.prompt_id = p.prompt_id
left join feedback as f on r.response_id = f.response_id
""",
    ),
    HandMart(
        "fct_ai_response_quality_daily",
        ("everreach",),
        """
select
    date, model,
    count(*) as responses,
    sum(liked_count) as likes,
    sum(disliked_count) as dislikes,
    sum(copied_count) as copies,
    count(*) filter (where liked_count > 0) as liked_responses,
    count(*) filter (where disliked_count > 0) as disliked_responses,
    count(*) filter (where was_copied) as copied_responses,
    round(100.0 * count(*) filter (where liked_count > 0) / count(*), 2) as like_rate,
    round(100.0 * count(*) filter (where disliked_count > 0) / count(*), 2) as dislike_rate,
    round(100.0 * count(*) filter (where was_copied) / count(*), 2) as copy_rate,
    round(avg(helpful_score), 4) as avg_helpful_score,
    round(avg(latency_ms), 2) as avg_latency_ms,
    percentile_cont(0.95) within group (order by latency_ms) as p95_latency_ms,
    sum(tokens_out) as tokens_out,
    round(avg(tokens_out), 2) as avg_tokens_out,
    sum(cost_usd) as cost_usd,
    round(avg(cost_usd), 6) as avg_cost_usd
from {schema}.ml_response_samples
group by 1, 2
""",
    ),
    HandMart(
        "fct_paywall_conversion_daily",
        ("everreach",),
        """
with e as ({ev_next_day}),
views as (
    select id, date, user_key, coalesce(placement, 'unknown') as placement, occurred_at
    from e where event_name = 'paywall_shown' and occurred_at < {hi}
),
purchases as (select user_key, occurred_at from e where event_name = 'purchase_succeeded'),
-- a hash join on the person, then the 24 hours: linear, where a correlated EXISTS
-- probes the day's events once per view
flagged as (
    select
        v.id, v.occurred_at, v.date, v.user_key, v.placement,
        coalesce(bool_or(p.occurred_at >= v.occurred_at
            and p.occurred_at < v.occurred_at + interval '24 hours'), false) as converted
    from views as v
    left join purchases as p on v.user_key = p.user_key
    group by v.id, v.occurred_at, v.date, v.user_key, v.placement
)
select
    date, placement,
    count(*) as paywall_impressions,
    count(distinct user_key) as paywall_users,
    count(*) filter (where converted) as converted_impressions,
    count(distinct user_key) filter (where converted) as converted_users,
    round(100.0 * count(distinct user_key) filter (where converted)
        / count(distinct user_key), 2) as conversion_rate
from flagged
group by 1, 2
""",
    ),
    # the union of the apps the model reads (built in `statement`)
    HandMart("int_user_days_unioned", ("yesgoddess", "everreach", "mashups"), ""),
    HandMart(
        "fct_active_users_daily",
        ("yesgoddess", "everreach", "mashups"),
        """
with user_days as (
    select * from {schema}.int_user_days_unioned
    where date >= {day} - 29 and date < {day} + 30
),
days as (select distinct app, date from user_days where date >= {day})
select
    app, date, dau, wau, mau, round(100.0 * dau / mau, 2) as stickiness_pct
from (
    select
        d.app, d.date,
        count(distinct u.user_id) filter (where u.date = d.date) as dau,
        count(distinct u.user_id) filter (where u.date > d.date - 7) as wau,
        count(distinct u.user_id) as mau
    from days as d
    inner join user_days as u
        on d.app = u.app and u.date > d.date - 30 and u.date <= d.date
    group by 1, 2
) as counted
""",
        days=30,
    ),
)


def _utc(day: date) -> str:
    return f"(date '{day.isoformat()}')::timestamp at time zone 'utc'"


# per app: its events CTE and the column that names a signed-in user
USER_DAYS = {"yesgoddess": ("yg", "actor_id"), "everreach": ("ev", "user_id"),
             "mashups": ("mu", "user_id")}  # fmt: skip


def _user_days(systems: set[str]) -> str:
    apps = [a for a in USER_DAYS if a in systems]
    ctes = ", ".join(f"{USER_DAYS[a][0]} as ({{{USER_DAYS[a][0]}}})" for a in apps)
    unions = "\nunion all\n".join(
        f"select '{a}' as app, date, {USER_DAYS[a][1]} as user_id, count(*) as events\n"
        f"from {USER_DAYS[a][0]} where {USER_DAYS[a][1]} is not null group by 1, 2, 3"
        for a in apps
    )
    return f"with {ctes}\n{unions}"


def statement(mart: HandMart, day: date, systems: set[str] | None = None) -> str:
    """`systems`: the apps the model reads (the user-day union follows the model)."""
    lo, hi = _utc(day), _utc(day + timedelta(days=1))
    wide = _utc(day - timedelta(days=1))
    body = mart.body or _user_days(systems or set(mart.systems))
    parts = {
        "lo": lo,
        "hi": hi,
        "day": f"date '{day.isoformat()}'",
        "schema": SCHEMA,
        "yg": YG_EVENTS.format(lo=lo, hi=hi, more=""),
        "yg_wide": YG_EVENTS.format(lo=wide, hi=hi, more=""),
        "yg_props": YG_EVENTS.format(lo=lo, hi=hi, more=" r.actor_type, r.props_json,"),
        "yg_sessions": YG_SESSIONS.format(lo=lo),
        "mu": MU_EVENTS.format(lo=lo, hi=hi),
        "ev": EV_EVENTS.format(lo=lo, hi=hi),
        "ev_open": EV_EVENTS.format(lo=lo, hi="'infinity'::timestamptz"),
        "ev_next_day": EV_EVENTS.format(lo=lo, hi=_utc(day + timedelta(days=2))),
    }
    return f"create table {SCHEMA}.{mart.model} as {body.format(**parts)}"


def reset(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(f"drop schema if exists {SCHEMA} cascade")
        conn.execute(f"create schema {SCHEMA}")


def build(url: str, marts: list[HandMart], day: date, systems_of: dict) -> dict[str, float]:
    """The timed part: each mart's statement in one session (seconds each), one commit."""
    seconds = {}
    with psycopg.connect(url) as conn:
        for mart in marts:
            sql_text = statement(mart, day, systems_of.get(mart.model))
            seconds[mart.model], _ = timed(lambda q=sql_text: conn.execute(q))
        seconds["commit"], _ = timed(conn.commit)
    return seconds


def mismatches(url: str, marts: list[HandMart], relations: dict[str, str], day: date) -> dict:
    """Per mart: (hand rows, dbt rows of the window, rows in one and not the other)."""
    out = {}
    with psycopg.connect(url) as conn:
        for mart in marts:
            hand, model = f"{SCHEMA}.{mart.model}", relations[mart.model]
            cols = [
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = %s and table_name = %s order by ordinal_position",
                    [SCHEMA, mart.model],
                )
            ]
            sel = ", ".join(f'"{c}"' for c in cols)
            window = (
                f"date >= date '{day.isoformat()}' "
                f"and date < date '{day.isoformat()}' + {mart.days}"
            )
            dbt_rows = f"select {sel} from {model} where {window}"
            hand_rows = f"select {sel} from {hand}"
            n_hand, n_dbt, differ = conn.execute(f"""select
                (select count(*) from {hand}),
                (select count(*) from {model} where {window}),
                (select count(*) from ({hand_rows} except all {dbt_rows}) as a)
              + (select count(*) from ({dbt_rows} except all {hand_rows}) as b)""").fetchone()
            out[mart.model] = (n_hand, n_dbt, differ)
    return out
