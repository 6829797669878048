-- CryptoGift referral rows that cannot be used, with the reason; raw keeps them too.
with base as (
    select * from {{ ref('base_cryptogift__referrals') }}
    where reject_reason is not null
),

final as (
    select
        referral_id,
        referral_code_id,
        referred_wallet,
        level,
        status,
        created_at,
        updated_at,
        reject_reason
    from base
)

select * from final
