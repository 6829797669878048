-- Referral-campaign referrals with their current status.
with source as (
    select * from {{ source('wallet', 'wallet__referrals') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

final as (
    select
        id as referral_id,
        campaign_id,
        referrer_user_id,
        referred_user_id,
        status,
        bonus_tokens,
        created_at,
        updated_at,
        (created_at at time zone 'utc')::date as date,
        status = 'credited' as is_credited
    from source
)

select * from final
