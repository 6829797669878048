-- YesGoddess events that cannot be used, with the reason; raw keeps every arrival too.
-- The props are scrubbed like staging's: quarantine is for engineers, not for PII.
with base as (
    select * from {{ ref('base_yesgoddess__events') }}
    where reject_reason is not null
),

final as (
    select
        ingest_seq,
        id as event_id,
        event_type,
        occurred_at,
        created_at,
        reject_reason,
        {{ scrub_pii_json('props_json') }} as props
    from base
)

select * from final
