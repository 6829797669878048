-- Realtime counter increments synced from Redis: one row per sync batch, mashup and metric.
with source as (
    select * from {{ source('mashups', 'mashups__realtime_counts') }}
),

final as (
    select
        batch_id,
        mashup_id,
        metric,
        count as increments,
        synced_at,
        (synced_at at time zone 'utc')::date as synced_date
    from source
)

select * from final
