-- EverReach app event arrivals that cannot be used, with the reason; raw keeps them too.
-- Quarantine is for engineers, not for PII: an object is scrubbed like staging's, and a
-- payload that is not an object (a double-encoded string) keeps its text, redacted.
with base as (
    select * from {{ ref('base_everreach__app_events') }}
    where reject_reason is not null
),

final as (
    select
        ingest_seq,
        id as event_id,
        event_name,
        user_id,
        anonymous_id,
        occurred_at,
        created_at,
        reject_reason,
        case
            when jsonb_typeof(properties) = 'object' then {{ scrub_pii_json('properties', 5000) }}
            else to_jsonb({{ redact_and_truncate("properties #>> '{}'", 5000) }})
        end as properties,
        case
            when jsonb_typeof(context) = 'object' then {{ scrub_pii_json('context', 5000) }}
            else to_jsonb({{ redact_and_truncate("context #>> '{}'", 5000) }})
        end as context
    from base
)

select * from final
