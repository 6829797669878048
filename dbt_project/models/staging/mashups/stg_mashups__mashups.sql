-- Mashups: one row per mashup; titles are free text, so emails/phones in them are redacted.
with source as (
    select * from {{ source('mashups', 'mashups__mashups') }}
),

final as (
    select
        id as mashup_id,
        creator_id,
        {{ redact_pii_text('title') }} as title,
        created_at
    from source
)

select * from final
