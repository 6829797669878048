-- Mashups events: usable rows only (the rest are in quarantine.mashups__analytics_events),
-- one per event (first arrival wins), PII already scrubbed by the base. The dedup key
-- includes "timestamp" (a redelivery repeats it) so a filter on occurred_at, a plain
-- rename of it, is pushed below the DISTINCT ON down to the raw "timestamp" index.
with base as (
    select * from {{ ref('base_mashups__analytics_events') }}
    where reject_reason is null
),

first_arrivals as (
    select distinct on (timestamp, id) *
    from base
    order by timestamp asc, id asc, ingest_seq asc
),

final as (
    select
        id as event_id,
        ingest_seq,
        event_type,
        event_category,
        user_id,
        session_id,
        timestamp as occurred_at,
        arrived_at,
        mashup_id,
        traffic_source,
        country,
        device,
        auto_play,
        position_seconds,
        duration_seconds,
        followed_creator_id,
        track_count,
        used_ai,
        has_media,
        export_platform,
        export_format,
        reaction,
        from_tier,
        to_tier,
        props,
        (timestamp at time zone 'utc')::date as event_date,
        -- a listener is the signed-in user, or the session when anonymous
        coalesce(user_id, 'session:' || session_id) as user_key
    from first_arrivals
)

select * from final
