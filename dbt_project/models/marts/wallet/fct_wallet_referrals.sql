-- One row per referral-campaign referral with its current status (whole rebuild): any
-- range's promotion analytics (distinct referrers included) are one query over it.
with referrals as (
    select * from {{ ref('stg_wallet__referrals') }}
),

final as (
    select
        referral_id,
        date,
        campaign_id,
        referrer_user_id,
        referred_user_id,
        status,
        is_credited,
        created_at,
        updated_at,
        case when is_credited then bonus_tokens else 0 end as bonus_awarded
    from referrals
)

select * from final
