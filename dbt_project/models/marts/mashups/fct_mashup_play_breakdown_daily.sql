-- The dashboard's sources and demographics of one creator's mashups: plays per UTC day,
-- mashup and value of each breakdown (traffic source, listener country, device), so a
-- creator's breakdown is a filter on their mashups. fct_mashup_traffic_sources_daily and
-- its siblings count the same plays for the whole platform, with sessions and listeners.
-- A play without the property counts under `unknown`.
with plays as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where
        {{ in_window('occurred_at') }}
        and event_type = 'mashup_played'
),

breakdowns as (
    select
        plays.event_date as date,
        plays.mashup_id,
        breakdown.dimension,
        coalesce(breakdown.value, 'unknown') as value
    from plays
    cross join lateral (
        values
        ('source', plays.traffic_source),
        ('country', plays.country),
        ('device', plays.device)
    ) as breakdown (dimension, value)
),

final as (
    select
        date,
        mashup_id,
        dimension,
        value,
        count(*) as plays
    from breakdowns
    group by date, mashup_id, dimension, value
)

select * from final
