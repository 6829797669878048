-- Seed 004 conversions (trackUpgrade → subscription_upgraded {from, to}): upgrades per
-- UTC day and tier change.
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

upgrades as (
    select
        event_date as date,
        user_key,
        coalesce(from_tier, 'unknown') as from_tier,
        coalesce(to_tier, 'unknown') as to_tier
    from events
    where event_type = 'subscription_upgraded'
),

final as (
    select
        date,
        from_tier,
        to_tier,
        count(*) as upgrades,
        count(distinct user_key) as users
    from upgrades
    group by date, from_tier, to_tier
)

select * from final
