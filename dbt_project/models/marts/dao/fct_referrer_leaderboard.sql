-- Seed 000 "Top referrers" and "Conversion quality": one row per referrer wallet (a
-- wallet credited by at least one referral at any level), all history, rebuilt whole.
-- Ranked by total referrals, ties by completed rewards (equal wallets share a rank).
-- Conversion quality: gifts whose referrer_address is the wallet and were claimed, per
-- level-1 (direct) referral.
with network as (
    select * from {{ ref('fct_referral_network_daily') }}
),

gifts as (
    select * from {{ ref('stg_cryptogift__gifts') }}
),

referrers as (
    select
        referrer_wallet,
        sum(total_referrals) as total_referrals,
        sum(active_referrals) as active_referrals,
        sum(level_1) as level_1,
        sum(level_2) as level_2,
        sum(level_3) as level_3,
        sum(total_rewards) as total_rewards,
        sum(pending_rewards) as pending_rewards,
        min(date) as first_referral_date,
        max(date) as last_referral_date,
        count(*) as active_days
    from network
    group by referrer_wallet
),

referred_gifts as (
    select
        lower(trim(referrer_address)) as referrer_wallet,
        count(*) as gifts_referred,
        count(*) filter (where claimed_at is not null) as gifts_claimed
    from gifts
    where nullif(trim(referrer_address), '') is not null
    group by lower(trim(referrer_address))
),

final as (
    select
        referrers.referrer_wallet,
        referrers.total_referrals::bigint as total_referrals,
        referrers.active_referrals::bigint as active_referrals,
        referrers.level_1::bigint as level_1,
        referrers.level_2::bigint as level_2,
        referrers.level_3::bigint as level_3,
        referrers.total_rewards,
        referrers.pending_rewards,
        referrers.first_referral_date,
        referrers.last_referral_date,
        referrers.active_days,
        coalesce(referred_gifts.gifts_referred, 0) as gifts_referred,
        coalesce(referred_gifts.gifts_claimed, 0) as gifts_claimed,
        round(coalesce(referred_gifts.gifts_claimed, 0)::numeric / nullif(referrers.level_1, 0), 2)
            as claimed_gifts_per_referral,
        rank() over (
            order by referrers.total_referrals desc, referrers.total_rewards desc
        ) as rank
    from referrers
    left join referred_gifts on referrers.referrer_wallet = referred_gifts.referrer_wallet
)

select * from final
