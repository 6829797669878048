{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        tags=['daily'],
        on_schema_change='append_new_columns'
    )
}}
-- Plays per listener country (seed 004 dashboard demographics) and UTC day;
-- percentage is the share of the day's plays.
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

plays as (
    select
        event_date as date,
        session_id,
        user_key,
        coalesce(country, 'unknown') as country
    from events
    where event_type = 'mashup_played'
),

by_country as (
    select
        date,
        country,
        count(*) as plays,
        count(distinct session_id) as sessions,
        count(distinct user_key) as listeners
    from plays
    group by date, country
),

final as (
    select
        date,
        country,
        plays,
        sessions,
        listeners,
        round(plays * 100.0 / sum(plays) over (partition by date), 2) as percentage
    from by_country
)

select * from final
