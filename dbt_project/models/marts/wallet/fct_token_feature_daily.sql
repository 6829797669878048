-- Tokens per UTC day, feature (the ledger's reason) and token type: the feature breakdown
-- and the regular/promo composition of any range are one query over it; daily
-- partitioned.
with entries as (
    select * from {{ ref('stg_wallet__wallet_ledger') }}
    where {{ in_window('occurred_at') }}
),

final as (
    select
        date,
        feature,
        token_type,
        coalesce(sum(amount) filter (where direction = 'credit'), 0)::bigint as credited,
        coalesce(sum(amount) filter (where direction = 'debit'), 0)::bigint as debited,
        count(*) as entries,
        count(distinct user_id) as users
    from entries
    group by date, feature, token_type
)

select * from final
