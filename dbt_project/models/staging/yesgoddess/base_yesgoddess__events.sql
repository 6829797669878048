{{ config(materialized="ephemeral") }}
-- Every arrival of an event with the reason it cannot be used (or null). Row checks only:
-- stg_yesgoddess__events keeps the first usable arrival of each event, quarantine the
-- unusable arrivals. No dedup here, so a filter on occurred_at reaches raw's index.
with source as (
    select * from {{ source('yesgoddess', 'yesgoddess__events') }}
),

event_types as (
    select * from {{ ref('yesgoddess_event_types') }}
),

checked as (
    select
        source.*,
        case
            {{ event_time_rejects('source.occurred_at', 'source.created_at') }}
            when event_types.event_type is null
                then
                    'event_type ' || quote_literal(source.event_type)
                    || ' is not in the taxonomy (seeds/yesgoddess_event_types.csv)'
            when coalesce(jsonb_typeof(source.props_json), 'null') <> 'object'
                then 'props_json is not a JSON object'
            when
                jsonb_typeof({{ prop_json('source.props_json', 'yesgoddess', 'revenue_cents') }})
                not in ('number', 'null')
                then
                    'props_json.revenue_cents is not a number: '
                    || {{ prop_text('source.props_json', 'yesgoddess', 'revenue_cents') }}
            when
                jsonb_typeof({{ prop_json('source.props_json', 'yesgoddess', 'engagement_ms') }})
                not in ('number', 'null')
                then
                    'props_json.engagement_ms is not a number: '
                    || {{ prop_text('source.props_json', 'yesgoddess', 'engagement_ms') }}
        end as reject_reason
    from source
    left join event_types on source.event_type = event_types.event_type
),

final as (
    select * from checked
)

select * from final
