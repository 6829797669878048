-- CryptoGift referral rows at levels 1–3 in their latest status: usable rows only (the
-- rest are in quarantine.cryptogift__referrals). A join writes one row per level, so a
-- referred wallet appears up to three times, once for each credited code.
with base as (
    select * from {{ ref('base_cryptogift__referrals') }}
    where reject_reason is null
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
        (created_at at time zone 'utc')::date as created_date
    from base
)

select * from final
