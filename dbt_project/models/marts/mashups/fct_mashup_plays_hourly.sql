-- Plays per UTC day and hour of the day (seed 004 "peakTimes").
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

plays as (
    select
        event_date as date,
        extract(hour from occurred_at at time zone 'utc')::int as hour_of_day,
        user_key
    from events
    where event_type = 'mashup_played'
),

final as (
    select
        date,
        hour_of_day,
        count(*) as plays,
        count(distinct user_key) as listeners
    from plays
    group by date, hour_of_day
)

select * from final
