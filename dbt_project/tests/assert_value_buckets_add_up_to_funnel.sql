-- The value histogram's buckets hold every gift of its funnel row, each once.
with buckets as (
    select * from {{ ref('fct_gift_value_distribution_daily') }}
),

funnel as (
    select * from {{ ref('fct_gift_funnel_daily') }}
),

per_cohort as (
    select
        date,
        campaign_id,
        sum(gifts) as gifts,
        sum(gifts_claimed) as gifts_claimed,
        sum(total_value_usd) as total_value_usd
    from buckets
    group by date, campaign_id
),

final as (
    select
        funnel.date,
        funnel.campaign_id,
        funnel.total_created,
        per_cohort.gifts
    from funnel
    full outer join per_cohort
        on
            funnel.date = per_cohort.date
            and funnel.campaign_id is not distinct from per_cohort.campaign_id
    where
        funnel.total_created is distinct from per_cohort.gifts
        or funnel.total_claimed is distinct from per_cohort.gifts_claimed
        or funnel.total_value_usd is distinct from per_cohort.total_value_usd
)

select * from final
