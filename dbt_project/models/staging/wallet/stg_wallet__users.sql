-- Wallet users; the email becomes a sha256 hash (PII never leaves staging).
with source as (
    select * from {{ source('wallet', 'wallet__users') }}
),

final as (
    select
        id as user_id,
        username,
        {{ sha256_email('email') }} as email_hash,
        role,
        created_at
    from source
)

select * from final
