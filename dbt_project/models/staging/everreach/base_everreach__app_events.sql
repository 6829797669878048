{{ config(materialized="ephemeral") }}
-- Every raw arrival of an EverReach app event, typed, with the reason it cannot be used
-- (null when usable). No dedup here: staging keeps the first arrival of each event, and
-- quarantine.everreach__app_events shows every rejected arrival.
with source as (
    select * from {{ source('everreach', 'everreach__app_events') }}
),

event_types as (
    select * from {{ ref('everreach_event_types') }}
),

checked as (
    select
        source.ingest_seq,
        source.id,
        source.event_name,
        event_types.category as event_category,
        source.user_id,
        source.anonymous_id,
        source.occurred_at::timestamptz as occurred_at,
        source.created_at::timestamptz as created_at,
        source.context::jsonb as context,
        source.properties::jsonb as properties,
        case
            {{ event_time_rejects('source.occurred_at', 'source.created_at') }}
            when event_types.event_name is null
                then
                    'event_name ' || quote_literal(source.event_name)
                    || ' is not in the taxonomy (seeds/everreach_event_types.csv)'
            when source.user_id is null and source.anonymous_id is null
                then 'neither user_id nor anonymous_id is set'
            when coalesce(jsonb_typeof(source.properties), 'null') <> 'object'
                then 'properties is not a JSON object'
            when coalesce(jsonb_typeof(source.context), 'null') <> 'object'
                then 'context is not a JSON object'
            -- the props the marts read must have the type they read them as
            when jsonb_typeof(source.properties -> 'placement') not in ('string', 'null')
                then
                    'properties.placement is not a string: '
                    || (source.properties ->> 'placement')
            when jsonb_typeof(source.properties -> 'response_id') not in ('string', 'null')
                then
                    'properties.response_id is not a string: '
                    || (source.properties ->> 'response_id')
        end as reject_reason
    from source
    left join event_types on source.event_name = event_types.event_name
),

final as (
    select * from checked
)

select * from final
