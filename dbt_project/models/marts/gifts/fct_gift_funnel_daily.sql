-- Gift funnel by creation cohort: every step is counted against the day the gift was
-- created, so a claim after midnight still belongs to its gift's row. Rebuilt whole:
-- any gift's later steps change old rows, and the rebuild is cheap (docs/PERFORMANCE.md).
with gifts as (
    select * from {{ ref('stg_cryptogift__gifts') }}
    where created_at is not null
),

final as (
    select
        created_at::date as date,
        campaign_id,
        count(*) as total_created,
        count(viewed_at) as total_viewed,
        count(preclaim_started_at) as total_preclaim,
        count(education_completed_at) as total_education,
        count(claimed_at) as total_claimed,
        round(count(claimed_at) * 100.0 / count(*), 2) as conversion_rate,
        round(
            (avg(extract(epoch from claimed_at - created_at)) / 60)::numeric, 2
        ) as avg_claim_time_min,
        coalesce(sum(value_usd), 0) as total_value_usd
    from gifts
    group by created_at::date, campaign_id
)

select * from final
