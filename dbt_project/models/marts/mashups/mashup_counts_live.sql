-- Per mashup and UTC day, its plays and likes as a dashboard reads them now: the days
-- fct_mashup_daily_stats has built (counted from the tracking events), plus every day
-- after its last one counted from the realtime Redis counters landed in raw (seed 004's
-- /api/analytics/realtime and syncToDatabase), as token_daily_live adds the days the
-- nightly mart has not built yet. What Redis holds and the sync has not taken yet (at
-- most one sync interval of increments) is invisible to SQL and shows after the next sync.
{{ config(materialized='view') }}

with built_days as (
    select * from {{ ref('fct_mashup_daily_stats') }}
),

counter_increments as (
    select * from {{ ref('stg_mashups__realtime_counts') }}
),

built_through as (
    select coalesce(max(date), '-infinity'::date) as last_built_date
    from built_days
),

live_increments as (
    select counter_increments.*
    from counter_increments
    cross join built_through
    where counter_increments.synced_date > built_through.last_built_date
),

live_days as (
    select
        mashup_id,
        synced_date as date,
        coalesce(sum(increments) filter (where metric = 'plays'), 0) as plays,
        coalesce(sum(increments) filter (where metric = 'likes'), 0) as likes,
        max(synced_at) as last_synced_at
    from live_increments
    group by mashup_id, synced_date
),

final as (
    select
        mashup_id,
        date,
        plays::bigint as plays,
        likes::bigint as likes,
        'events' as counted_from,
        null::timestamptz as last_synced_at,
        false as is_live
    from built_days
    union all
    select
        mashup_id,
        date,
        plays::bigint as plays,
        likes::bigint as likes,
        'redis_counters' as counted_from,
        last_synced_at,
        true as is_live
    from live_days
)

select * from final
