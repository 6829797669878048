-- Prompts sent to the assistant; the text with emails and phone numbers redacted and cut
-- to 5,000 characters (seed 003's collector limit), its original length kept.
with source as (
    select * from {{ source('everreach', 'everreach__prompts') }}
),

final as (
    select
        prompt_id,
        user_id,
        session_id,
        contact_id,
        {{ redact_and_truncate('text', 5000) }} as prompt_text,
        length(text) as text_length,
        coalesce(length(text) > 5000, false) as is_truncated,
        model,
        temperature::numeric as temperature,
        tags,
        created_at::timestamptz as created_at
    from source
)

select * from final
