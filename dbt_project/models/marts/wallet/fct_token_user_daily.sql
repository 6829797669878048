-- One row per UTC day and user with ledger activity: what the user was credited and
-- debited, per token type too. Any range's distinct active users and top users (spend,
-- earn, net) are one query over it; daily partitioned. Integer columns: summing them over
-- a year keeps a by-value bigint state per user, twice as fast as bigint's numeric one
-- (a user moving 2^31 tokens in a day fails the build loudly rather than wrapping).
with entries as (
    select * from {{ ref('stg_wallet__wallet_ledger') }}
    where {{ in_window('occurred_at') }}
),

final as (
    select
        date,
        user_id,
        coalesce(sum(amount) filter (where direction = 'credit'), 0)::integer as credited,
        coalesce(sum(amount) filter (where direction = 'debit'), 0)::integer as debited,
        sum(signed_amount)::integer as net,
        coalesce(
            sum(amount) filter (where direction = 'credit' and token_type = 'regular'), 0
        ) as credited_regular,
        coalesce(
            sum(amount) filter (where direction = 'credit' and token_type = 'promo'), 0
        ) as credited_promo,
        coalesce(
            sum(amount) filter (where direction = 'debit' and token_type = 'regular'), 0
        ) as debited_regular,
        coalesce(
            sum(amount) filter (where direction = 'debit' and token_type = 'promo'), 0
        ) as debited_promo,
        count(*) as entries
    from entries
    group by date, user_id
)

select * from final
