-- EverReach app events: usable rows only (the rest are in quarantine.everreach__app_events),
-- one per event (first arrival wins), PII scrubbed from the properties.
-- The dedup key leads with occurred_at: Postgres pushes a qual on a DISTINCT ON column
-- into the view, so a mart's window filter on occurred_at reaches the raw index. A
-- duplicate delivery repeats occurred_at, so (occurred_at, id) is the event's identity.
-- occurred_at stays the plain column for the same reason (no expression around it).
with base as (
    select * from {{ ref('base_everreach__app_events') }}
    where reject_reason is null
),

first_arrivals as (
    select distinct on (occurred_at, id) *
    from base
    order by occurred_at asc, id asc, ingest_seq asc
),

final as (
    select
        id as event_id,
        ingest_seq,
        event_name,
        event_category,
        user_id,
        anonymous_id,
        -- before signup a person is their device's anonymous id
        coalesce(user_id, 'anon:' || anonymous_id) as user_key,
        occurred_at,
        (occurred_at at time zone 'utc')::date as event_date,
        created_at as arrived_at,
        -- seed 003: the collector fills context with platform, app_build, device_model
        -- (earlier names and camelCase accepted: macros/props.sql)
        {{ prop_text('context', 'everreach', 'platform') }} as platform,
        {{ prop_text('context', 'everreach', 'app_build') }} as app_build,
        {{ prop_text('context', 'everreach', 'device_model') }} as device_model,
        context ->> 'country' as country,
        properties ->> 'placement' as placement,
        properties ->> 'response_id' as response_id,
        {{ scrub_pii_json('properties', 5000) }} as properties
    from first_arrivals
)

select * from final
