-- Every first arrival of an event, typed, with the reason it cannot be used (or null).
-- stg_yesgoddess__events keeps the usable rows, quarantine.yesgoddess__events the rest;
-- later deliveries of the same event id stay in raw only.
with source as (
    select * from {{ source('yesgoddess', 'yesgoddess__events') }}
),

event_types as (
    select * from {{ ref('yesgoddess_event_types') }}
),

first_arrivals as (
    select distinct on (id) *
    from source
    order by id asc, ingest_seq asc
),

checked as (
    select
        first_arrivals.*,
        case
            when first_arrivals.occurred_at is null then 'occurred_at is missing'
            when first_arrivals.occurred_at > first_arrivals.created_at + interval '1 day'
                then 'occurred_at ' || first_arrivals.occurred_at || ' is in the future'
            when event_types.event_type is null
                then
                    'event_type ' || quote_literal(first_arrivals.event_type)
                    || ' is not in the taxonomy (seeds/yesgoddess_event_types.csv)'
            when coalesce(jsonb_typeof(first_arrivals.props_json), 'null') <> 'object'
                then 'props_json is not a JSON object'
            when
                jsonb_typeof(first_arrivals.props_json -> 'revenue_cents') not in ('number', 'null')
                then
                    'props_json.revenue_cents is not a number: '
                    || (first_arrivals.props_json ->> 'revenue_cents')
            when
                jsonb_typeof(first_arrivals.props_json -> 'engagement_ms') not in ('number', 'null')
                then
                    'props_json.engagement_ms is not a number: '
                    || (first_arrivals.props_json ->> 'engagement_ms')
        end as reject_reason
    from first_arrivals
    left join event_types on first_arrivals.event_type = event_types.event_type
),

final as (
    select * from checked
)

select * from final
