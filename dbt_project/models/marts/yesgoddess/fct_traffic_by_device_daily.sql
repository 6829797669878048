{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Traffic per day by device type, browser and OS of the session's landing (the app's
-- values, or the parsed user agent); sessions without an attribution row (API and
-- system traffic) are 'unknown'.
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

located as (
    select
        events.*,
        coalesce(sessions.device_type, 'unknown') as device_type,
        coalesce(sessions.browser, 'unknown') as browser,
        coalesce(sessions.os, 'unknown') as os
    from events
    left join sessions on events.session_id = sessions.session_id
),

final as (
    select
        event_date as date,
        device_type,
        browser,
        os,
        coalesce(sum(revenue_cents), 0)::bigint as revenue_cents,
        count(distinct session_id) as sessions,
        count(distinct visitor_key) as unique_visitors,
        count(*) as events,
        count(*) filter (where event_type = 'asset_viewed') as views,
        count(*) filter (where event_type = 'license_created') as conversions
    from located
    group by event_date, device_type, browser, os
)

select * from final
