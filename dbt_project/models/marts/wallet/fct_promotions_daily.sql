-- Seed 002's promotion analytics per UTC referral day and campaign: referrers,
-- referrals, the credited ones, bonus tokens awarded, conversion rate (credited /
-- referrals x 100, 2 dp). Whole rebuild (statuses change).
with referrals as (
    select * from {{ ref('fct_wallet_referrals') }}
),

final as (
    select
        date,
        campaign_id,
        count(distinct referrer_user_id) as total_referrers,
        count(*) as total_referrals,
        count(*) filter (where is_credited) as successful_referrals,
        sum(bonus_awarded) as total_bonus_awarded,
        round(100.0 * count(*) filter (where is_credited) / count(*), 2) as conversion_rate
    from referrals
    group by date, campaign_id
)

select * from final
