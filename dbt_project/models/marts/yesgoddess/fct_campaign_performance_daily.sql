{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Campaign (UTM) performance per day: the events of sessions whose landing carried an
-- attribution row; a session without UTM tags is direct or referral traffic (null tags).
with events as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where {{ in_window('occurred_at') }}
),

-- a session that crossed midnight landed the day before the window
sessions as (
    select distinct on (session_id) *
    from {{ ref('int_sessions_attributed') }}
    where date >= {{ window_start() }} - 1 and date < {{ window_end() }}
    order by session_id asc, landed_at asc
),

attributed as (
    select
        events.*,
        sessions.utm_source,
        sessions.utm_medium,
        sessions.utm_campaign
    from events
    inner join sessions on events.session_id = sessions.session_id
),

daily as (
    select
        event_date as date,
        utm_source,
        utm_medium,
        utm_campaign,
        coalesce(sum(revenue_cents), 0)::bigint as revenue_cents,
        count(distinct session_id) as sessions,
        count(distinct visitor_key) as unique_visitors,
        count(*) filter (where event_type = 'asset_viewed') as views,
        count(*) filter (
            where event_type in ('asset_downloaded', 'license_clicked')
        ) as clicks,
        count(*) filter (where event_type = 'license_created') as conversions,
        count(distinct session_id) filter (
            where event_type = 'license_created'
        ) as converting_sessions
    from attributed
    group by event_date, utm_source, utm_medium, utm_campaign
),

final as (
    select
        *,
        round(100.0 * converting_sessions / sessions, 2) as conversion_rate
    from daily
)

select * from final
