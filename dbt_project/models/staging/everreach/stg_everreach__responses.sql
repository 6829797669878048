-- The assistant's answers, typed; the text with emails and phone numbers redacted (a
-- model echoes what the prompt held) and cut to 5,000 characters.
with source as (
    select * from {{ source('everreach', 'everreach__responses') }}
),

final as (
    select
        response_id,
        prompt_id,
        user_id,
        model,
        {{ redact_and_truncate('text', 5000) }} as response_text,
        length(text) as text_length,
        coalesce(length(text) > 5000, false) as is_truncated,
        tokens_out::integer as tokens_out,
        finish_reason,
        cost_usd::numeric as cost_usd,
        latency_ms::integer as latency_ms,
        created_at::timestamptz as created_at,
        (created_at at time zone 'utc')::date as created_date
    from source
)

select * from final
