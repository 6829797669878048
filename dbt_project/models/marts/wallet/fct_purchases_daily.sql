-- Seed 002's purchase analytics per UTC creation day and provider: paid purchases, their
-- tokens and revenue, averages per paid purchase and unique buyers, next to the attempts
-- and how they ended. Whole rebuild (statuses change).
with purchases as (
    select * from {{ ref('fct_purchases') }}
),

final as (
    select
        date,
        provider,
        count(*) filter (where is_paid) as total_purchases,
        coalesce(sum(tokens) filter (where is_paid), 0) as total_tokens,
        coalesce(sum(amount_inr) filter (where is_paid), 0) as total_revenue,
        round(avg(tokens) filter (where is_paid), 2) as avg_tokens_per_purchase,
        round(avg(amount_inr) filter (where is_paid), 2) as avg_revenue_per_purchase,
        count(distinct user_id) filter (where is_paid) as unique_buyers,
        count(*) as attempts,
        count(*) filter (where status in ('created', 'pending')) as open_attempts,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status = 'refunded') as refunded,
        round(100.0 * count(*) filter (where is_paid) / count(*), 2) as paid_rate
    from purchases
    group by date, provider
)

select * from final
