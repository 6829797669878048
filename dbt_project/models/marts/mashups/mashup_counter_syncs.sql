-- Seed 004 realtime counters as they land: per counter sync batch and mashup, the plays
-- and likes the app counted in Redis since the batch before. A view over the landed
-- batches, so a dashboard sums any recent window ("lastHour") to within one sync
-- interval (5 minutes).
{{ config(materialized='view') }}

with increments as (
    select * from {{ ref('stg_mashups__realtime_counts') }}
),

final as (
    select
        batch_id,
        mashup_id,
        max(synced_at) as synced_at,
        coalesce(sum(increments) filter (where metric = 'plays'), 0) as plays,
        coalesce(sum(increments) filter (where metric = 'likes'), 0) as likes
    from increments
    group by batch_id, mashup_id
)

select * from final
