-- The dashboard's realtime activeUsers and playingNow (GET /api/analytics/realtime): the
-- usable Mashups events of the last 15 minutes, as landed. A view, so the window moves
-- with the clock; the mashups_events_every_5_minutes schedule lands the tracking events
-- every 5 minutes, so "now" is at most that far behind the app. The 15 minutes bound a
-- play whose end never arrived (the tab closed): it counts as playing that long at most.
-- An event stamped after now (a client clock ahead) waits until its time.
{{ config(materialized='view') }}

with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where
        occurred_at > now() - interval '15 minutes'
        and occurred_at <= now()
),

final as (
    select
        event_id,
        event_type,
        user_key,
        user_id,
        session_id,
        mashup_id,
        occurred_at
    from events
)

select * from final
