-- YesGoddess events: the first usable arrival of each event (the unusable ones are in
-- quarantine.yesgoddess__events), PII scrubbed from the props.
-- A redelivery repeats the event's id and occurred_at; deduplicating on both lets
-- Postgres push a mart's occurred_at window into this view (a qual on a DISTINCT ON
-- column is pushed down), so a day costs the same with any amount of history.
with base as (
    select * from {{ ref('base_yesgoddess__events') }}
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
        source,
        event_type,
        actor_type,
        actor_id,
        project_id,
        ip_asset_id,
        license_id,
        session_id,
        -- timestamptz as landed: an expression here would hide raw's index from filters
        occurred_at,
        (occurred_at at time zone 'utc')::date as event_date,
        created_at as arrived_at,
        -- a visitor is the actor, or the session when anonymous (seed 001)
        coalesce('actor:' || actor_id, 'session:' || session_id) as visitor_key,
        -- seed 001 sums `revenueCents`; `revenue_cents` is accepted too (macros/props.sql)
        ({{ prop_text('props_json', 'yesgoddess', 'revenue_cents') }})::numeric
            as revenue_cents,
        ({{ prop_text('props_json', 'yesgoddess', 'engagement_ms') }})::numeric
            as engagement_ms,
        {{ scrub_pii_json('props_json') }} as props
    from first_arrivals
)

select * from final
