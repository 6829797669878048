-- Seed 000 "Network growth" and "Reward payouts": one row per UTC day from the first
-- referral (or payout) to the last, days without any included, rebuilt whole.
-- new_referrers: wallets credited by a referral (any level) for the first time that day;
-- rewards count on the day they were created (paid), not on the referral's day.
with network as (
    select * from {{ ref('fct_referral_network_daily') }}
),

rewards as (
    select * from {{ ref('stg_cryptogift__referral_rewards') }}
),

referrals as (
    select * from {{ ref('stg_cryptogift__referrals') }}
),

first_days as (
    select
        referrer_wallet,
        min(date) as first_date
    from network
    group by referrer_wallet
),

new_referrers as (
    select
        first_date as date,
        count(*) as new_referrers
    from first_days
    group by first_date
),

referrals_daily as (
    select
        date,
        sum(total_referrals)::bigint as new_referrals,
        sum(level_1)::bigint as level_1,
        sum(level_2)::bigint as level_2,
        sum(level_3)::bigint as level_3
    from network
    group by date
),

-- rewards of usable referrals only (a quarantined referral's rewards are not paid here)
payouts_daily as (
    select
        rewards.created_date as date,
        count(*) filter (where rewards.status = 'completed') as rewards_completed_count,
        coalesce(sum(rewards.amount) filter (where rewards.status = 'completed'), 0)
            as rewards_completed
    from rewards
    inner join referrals on rewards.referral_id = referrals.referral_id
    group by rewards.created_date
),

bounds as (
    select
        min(date) as first_date,
        max(date) as last_date
    from (
        select date from referrals_daily
        union all
        select date from payouts_daily
    ) as days
),

spine as (
    select generate_series(bounds.first_date, bounds.last_date, interval '1 day')::date as date
    from bounds
    where bounds.first_date is not null
),

daily as (
    select
        spine.date,
        coalesce(new_referrers.new_referrers, 0) as new_referrers,
        coalesce(referrals_daily.new_referrals, 0) as new_referrals,
        coalesce(referrals_daily.level_1, 0) as level_1,
        coalesce(referrals_daily.level_2, 0) as level_2,
        coalesce(referrals_daily.level_3, 0) as level_3,
        coalesce(payouts_daily.rewards_completed, 0) as rewards_completed,
        coalesce(payouts_daily.rewards_completed_count, 0) as rewards_completed_count
    from spine
    left join new_referrers on spine.date = new_referrers.date
    left join referrals_daily on spine.date = referrals_daily.date
    left join payouts_daily on spine.date = payouts_daily.date
),

final as (
    select
        date,
        new_referrers,
        new_referrals,
        level_1,
        level_2,
        level_3,
        rewards_completed,
        rewards_completed_count,
        sum(new_referrers) over (order by date)::bigint as cumulative_referrers,
        sum(new_referrals) over (order by date)::bigint as cumulative_referrals,
        sum(rewards_completed) over (order by date) as cumulative_rewards_completed
    from daily
)

select * from final
