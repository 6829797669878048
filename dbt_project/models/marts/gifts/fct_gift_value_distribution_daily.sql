-- Seed 000 "Value Distribution: USD value histogram": gifts per creation day (UTC),
-- campaign and USD value bucket, rebuilt whole like fct_gift_funnel_daily (a claim
-- changes an old day's row). Every (day, campaign) that created a gift has all seven
-- buckets, zeros included, so a histogram over any period shows its empty bars. The
-- seed sketches no buckets: these follow the round amounts a sender picks (5, 10, 20,
-- 50, 100 USD), each bucket from one amount (included) up to the next (excluded), so a
-- typical gift value sits on a lower bound, never across one. A gift whose value_usd
-- the app left blank counts under 'not set' (the seed's sync wrote it as 0).
with gifts as (
    select * from {{ ref('stg_cryptogift__gifts') }}
    where created_at is not null
),

buckets as (
    select *
    from (
        values
        (1, '0-5', 0::numeric, 5::numeric),
        (2, '5-10', 5, 10),
        (3, '10-20', 10, 20),
        (4, '20-50', 20, 50),
        (5, '50-100', 50, 100),
        (6, '100+', 100, null),
        (7, 'not set', null, null)
    ) as bucket_list (bucket_order, value_bucket, min_usd, max_usd)
),

cohorts as (
    select distinct
        created_at::date as date,
        campaign_id
    from gifts
),

gift_buckets as (
    select
        gifts.created_at::date as date,
        gifts.campaign_id,
        buckets.bucket_order,
        gifts.value_usd,
        gifts.claimed_at
    from gifts
    inner join buckets
        on
            (
                gifts.value_usd >= buckets.min_usd
                and (buckets.max_usd is null or gifts.value_usd < buckets.max_usd)
            )
            or (gifts.value_usd is null and buckets.min_usd is null)
),

counted as (
    select
        date,
        campaign_id,
        bucket_order,
        count(*) as gifts,
        count(claimed_at) as gifts_claimed,
        sum(value_usd) as total_value_usd
    from gift_buckets
    group by date, campaign_id, bucket_order
),

final as (
    select
        cohorts.date,
        cohorts.campaign_id,
        buckets.bucket_order,
        buckets.value_bucket,
        buckets.min_usd,
        buckets.max_usd,
        coalesce(counted.gifts, 0) as gifts,
        coalesce(counted.gifts_claimed, 0) as gifts_claimed,
        coalesce(counted.total_value_usd, 0) as total_value_usd
    from cohorts
    cross join buckets
    left join counted
        on
            cohorts.date = counted.date
            and buckets.bucket_order = counted.bucket_order
            and cohorts.campaign_id is not distinct from counted.campaign_id
)

select * from final
