{{
    config(
        materialized='incremental',
        incremental_strategy='window_replace',
        window_column='date',
        tags=['daily'],
        on_schema_change='append_new_columns'
    )
}}
-- Plays per traffic source (seed 004 dashboard "sources") and UTC day; percentage
-- is the share of the day's plays.
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

plays as (
    select
        event_date as date,
        session_id,
        user_key,
        coalesce(traffic_source, 'unknown') as source
    from events
    where event_type = 'mashup_played'
),

by_source as (
    select
        date,
        source,
        count(*) as plays,
        count(distinct session_id) as sessions,
        count(distinct user_key) as listeners
    from plays
    group by date, source
),

final as (
    select
        date,
        source,
        plays,
        sessions,
        listeners,
        round(plays * 100.0 / sum(plays) over (partition by date), 2) as percentage
    from by_source
)

select * from final
