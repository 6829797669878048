-- YesGoddess events: first arrival of each event id, usable rows only (the rest are in
-- quarantine.yesgoddess__events), UTC timestamps, PII scrubbed from the props.
with base as (
    select * from {{ ref('base_yesgoddess__events') }}
    where reject_reason is null
),

final as (
    select
        id as event_id,
        ingest_seq,
        source,
        event_type,
        actor_type,
        actor_id,
        project_id,
        ip_asset_id,
        license_id,
        session_id,
        occurred_at at time zone 'UTC' as occurred_at,
        (occurred_at at time zone 'UTC')::date as event_date,
        created_at at time zone 'UTC' as arrived_at,
        -- a visitor is the actor, or the session when anonymous (seed 001)
        coalesce('actor:' || actor_id, 'session:' || session_id) as visitor_key,
        (props_json ->> 'revenue_cents')::numeric as revenue_cents,
        (props_json ->> 'engagement_ms')::numeric as engagement_ms,
        {{ scrub_pii_json('props_json') }} as props
    from base
)

select * from final
