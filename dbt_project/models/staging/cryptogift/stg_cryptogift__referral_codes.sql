-- CryptoGift referral codes: one row per code, the owner's wallet lowercased.
with source as (
    select * from {{ source('cryptogift', 'cryptogift__referral_codes') }}
),

final as (
    select
        id as referral_code_id,
        code,
        created_at,
        lower(trim(wallet_address)) as wallet_address
    from source
)

select * from final
