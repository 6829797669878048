{{ config(
    full_refresh=false,
    retention_groups={
        "app = 'yesgoddess'": ["yesgoddess__events"],
        "app = 'everreach'": ["everreach__app_events"],
    },
) }}
-- Raw retention deletes each app's old days at its own horizon: the rows of an app's
-- days before its horizon are kept as built (macros/retention.sql); full_refresh=false,
-- as a --full-refresh would lose them.
-- One row per app, UTC day and signed-in user with an event that day: the small table
-- the rolling active-user counts read (a 30-day window is 30 days of this, not events).
-- Anonymous visitors are not users here: their ids are per session or device.
with yesgoddess as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where {{ in_window('occurred_at') }}
),

everreach as (
    select * from {{ ref('stg_everreach__app_events') }}
    where {{ in_window('occurred_at') }}
),

mashups as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

unioned as (
    select
        'yesgoddess' as app,
        event_date as date,
        actor_id as user_id
    from yesgoddess
    where actor_id is not null

    union all

    select
        'everreach' as app,
        event_date as date,
        user_id
    from everreach
    where user_id is not null

    union all

    select
        'mashups' as app,
        event_date as date,
        user_id
    from mashups
    where user_id is not null
),

final as (
    select
        app,
        date,
        user_id,
        count(*) as events
    from unioned
    group by app, date, user_id
)

select * from final
