-- Seed 000 mv_referral_network_daily: per UTC day of the referral and referrer wallet
-- (the owner of the credited code), referrals by level and status and their rewards.
-- Fixes the seed's fan-out: it joined rewards row by row, so a referral with two rewards
-- counted twice in every count; here rewards are summed per referral first. Only codes
-- with referrals appear (the seed's left join from codes made a NULL-date row for each
-- unused code). All history is kept (the seed's 180-day filter only bounded its view).
-- Rewards count on the referral's day (as in the seed); the payout day is in
-- fct_referral_network_growth_daily.
with referrals as (
    select * from {{ ref('stg_cryptogift__referrals') }}
),

codes as (
    select * from {{ ref('stg_cryptogift__referral_codes') }}
),

rewards as (
    select * from {{ ref('stg_cryptogift__referral_rewards') }}
),

rewards_per_referral as (
    select
        referral_id,
        sum(amount) filter (where status = 'completed') as completed_amount,
        sum(amount) filter (where status = 'pending') as pending_amount
    from rewards
    group by referral_id
),

referral_facts as (
    select
        referrals.created_date as date,
        codes.wallet_address as referrer_wallet,
        referrals.level,
        referrals.status,
        referrals.referred_wallet,
        rewards_per_referral.completed_amount,
        rewards_per_referral.pending_amount
    from referrals
    inner join codes on referrals.referral_code_id = codes.referral_code_id
    left join rewards_per_referral on referrals.referral_id = rewards_per_referral.referral_id
),

final as (
    select
        date,
        referrer_wallet,
        count(*) as total_referrals,
        count(*) filter (where status = 'active') as active_referrals,
        count(*) filter (where level = 1) as level_1,
        count(*) filter (where level = 2) as level_2,
        count(*) filter (where level = 3) as level_3,
        coalesce(sum(completed_amount), 0) as total_rewards,
        count(*) filter (where status = 'pending') as pending_referrals,
        count(*) filter (where status = 'inactive') as inactive_referrals,
        coalesce(sum(pending_amount), 0) as pending_rewards
    from referral_facts
    group by date, referrer_wallet
)

select * from final
