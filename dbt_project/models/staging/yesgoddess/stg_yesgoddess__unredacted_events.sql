-- The staged YesGoddess events with their props as they arrived, PII included: only for
-- admin exports that ask for it (seed 001: "PII redacted unless explicitly requested").
-- The dedup and checks are stg_yesgoddess__events'; only the props come from raw, by the
-- arrival (ingest_seq) that staging kept. No mart reads this view.
-- It lives in schema `pii`, not staging: like raw, `pii` has no reader role, so Metabase
-- never sees it and staging, intermediate and marts stay free of emails and phones.
{{ config(schema='pii') }}

with events as (
    select * from {{ ref('stg_yesgoddess__events') }}
),

arrivals as (
    select
        ingest_seq,
        props_json
    from {{ source('yesgoddess', 'yesgoddess__events') }}
),

final as (
    select
        events.event_id,
        events.ingest_seq,
        events.source,
        events.event_type,
        events.actor_type,
        events.actor_id,
        events.project_id,
        events.ip_asset_id,
        events.license_id,
        events.session_id,
        events.occurred_at,
        events.event_date,
        arrivals.props_json as props
    from events
    inner join arrivals on events.ingest_seq = arrivals.ingest_seq
)

select * from final
