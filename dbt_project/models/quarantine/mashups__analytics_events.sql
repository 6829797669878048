-- Mashups event arrivals that cannot be used, with the reason; raw keeps them too.
-- Properties are scrubbed (in the base) as staging's: quarantine is for engineers.
with base as (
    select * from {{ ref('base_mashups__analytics_events') }}
    where reject_reason is not null
),

final as (
    select
        ingest_seq,
        id as event_id,
        event_type,
        user_id,
        session_id,
        timestamp as occurred_at,
        arrived_at,
        reject_reason,
        properties_type,
        props
    from base
)

select * from final
