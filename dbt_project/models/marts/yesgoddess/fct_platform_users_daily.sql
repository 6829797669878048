{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- The platform KPIs' users: one row per UTC day and signed-in actor (creator, brand or
-- admin) with an event that day, and whether it signed up that day. Anonymous visitors
-- are no users: their ids are sessions.
with events as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where
        {{ in_window('occurred_at') }}
        and actor_id is not null
),

final as (
    select
        event_date as date,
        actor_id as user_id,
        actor_type,
        count(*) as events,
        bool_or(event_type = 'signup_completed') as signed_up
    from events
    group by event_date, actor_id, actor_type
)

select * from final
