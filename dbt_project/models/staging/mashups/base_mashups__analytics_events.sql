-- Every raw arrival of a Mashups event, typed, PII scrubbed, with the reason it cannot be
-- used (or null). No dedup and no window function here: stg_mashups__analytics_events
-- keeps the usable rows (first arrival wins) and a mart's filter on the event time reaches
-- the raw "timestamp" index through both views; quarantine.mashups__analytics_events keeps
-- the rest. The properties the marts use are read before scrubbing (ids are not PII).

-- Arrival time: the app's received_at when the table has it, else the extract-load time.
{%- set arrival = '_loaded_at' -%}
{%- if execute -%}
    {%- set raw_columns = adapter.get_columns_in_relation(
        source('mashups', 'mashups__analytics_events')
    ) | map(attribute='name') | list -%}
    {%- if 'received_at' in raw_columns -%}
        {%- set arrival = 'coalesce(source.received_at, source._loaded_at)' -%}
    {%- endif -%}
{%- endif %}

with source as (
    select * from {{ source('mashups', 'mashups__analytics_events') }}
),

event_types as (
    select * from {{ ref('mashups_event_types') }}
),

typed as (
    select
        source.ingest_seq,
        -- seed 004's app declares both uuid; landed text or uuid, staging reads text
        source.id::text as id,
        source.user_id::text as user_id,
        source.session_id,
        source.event_type,
        source.properties,
        source.timestamp,
        {{ arrival }} as arrived_at,
        event_types.category as event_category
    from source
    left join event_types on source.event_type = event_types.event_type
),

checked as (
    select
        *,
        case
            {{ event_time_rejects('timestamp', 'arrived_at') }}
            when event_category is null
                then
                    'event_type ' || quote_literal(event_type)
                    || ' is not in the taxonomy (seeds/mashups_event_types.csv)'
            when coalesce(jsonb_typeof(properties), 'null') <> 'object'
                then
                    'properties is not a JSON object but '
                    || coalesce(jsonb_typeof(properties), 'missing')
            when jsonb_typeof(properties -> 'mashup_id') not in ('string', 'null')
                then 'properties.mashup_id is not a string: ' || (properties ->> 'mashup_id')
            when jsonb_typeof(properties -> 'creator_id') not in ('string', 'null')
                then 'properties.creator_id is not a string: ' || (properties ->> 'creator_id')
            when jsonb_typeof(properties -> 'position') not in ('number', 'null')
                then 'properties.position is not a number: ' || (properties ->> 'position')
            when jsonb_typeof(properties -> 'duration') not in ('number', 'null')
                then 'properties.duration is not a number: ' || (properties ->> 'duration')
            when jsonb_typeof(properties -> 'autoPlay') not in ('boolean', 'null')
                then 'properties.autoPlay is not a boolean: ' || (properties ->> 'autoPlay')
            when
                jsonb_typeof({{ prop_json('properties', 'mashups', 'track_count') }})
                not in ('number', 'null')
                then
                    'properties.trackCount is not a number: '
                    || {{ prop_text('properties', 'mashups', 'track_count') }}
            when
                jsonb_typeof({{ prop_json('properties', 'mashups', 'used_ai') }})
                not in ('boolean', 'null')
                then
                    'properties.usedAI is not a boolean: '
                    || {{ prop_text('properties', 'mashups', 'used_ai') }}
            when
                jsonb_typeof({{ prop_json('properties', 'mashups', 'has_media') }})
                not in ('boolean', 'null')
                then
                    'properties.has_media is not a boolean: '
                    || {{ prop_text('properties', 'mashups', 'has_media') }}
        end as reject_reason
    from typed
),

final as (
    select
        ingest_seq,
        id,
        user_id,
        session_id,
        event_type,
        event_category,
        timestamp,
        arrived_at,
        reject_reason,
        jsonb_typeof(properties) as properties_type,
        properties ->> 'mashup_id' as mashup_id,
        properties ->> 'source' as traffic_source,
        properties ->> 'country' as country,
        properties ->> 'device' as device,
        properties ->> 'creator_id' as followed_creator_id,
        case
            when jsonb_typeof(properties -> 'autoPlay') = 'boolean'
                then (properties -> 'autoPlay')::boolean
        end as auto_play,
        case
            when jsonb_typeof(properties -> 'position') = 'number'
                then (properties -> 'position')::numeric
        end as position_seconds,
        -- the other props of seed 004's capture calls (names accepted: macros/props.sql)
        ({{ prop_text('properties', 'mashups', 'track_count') }})::numeric as track_count,
        ({{ prop_text('properties', 'mashups', 'used_ai') }})::boolean as used_ai,
        ({{ prop_text('properties', 'mashups', 'has_media') }})::boolean as has_media,
        properties ->> 'platform' as export_platform,
        properties ->> 'format' as export_format,
        properties ->> 'reaction' as reaction,
        {{ prop_text('properties', 'mashups', 'from_tier') }} as from_tier,
        {{ prop_text('properties', 'mashups', 'to_tier') }} as to_tier,
        case
            when jsonb_typeof(properties -> 'duration') = 'number'
                then (properties -> 'duration')::numeric
        end as duration_seconds,
        case
            when jsonb_typeof(properties) = 'object' then {{ scrub_pii_json('properties') }}
            when jsonb_typeof(properties) = 'string'
                then to_jsonb({{ redact_pii_text("properties #>> '{}'") }})
            else properties
        end as props
    from checked
)

select * from final
