-- One row per wallet user: the days they had ledger activity and their running credited
-- and debited totals up to each of those days. A range's totals per user are then two
-- binary searches (width_bucket over active_dates) and two subtractions, instead of
-- summing every user-day of the range: top users over a year of 5M ledger rows in ~20 ms
-- instead of ~200 ms (docs/WALLET.md, docs/PERFORMANCE.md). Whole rebuild from
-- fct_token_user_daily, under a second at that size.
with user_days as (
    select
        user_id,
        date,
        credited,
        debited
    from {{ ref('fct_token_user_daily') }}
),

running as (
    select
        user_id,
        date,
        sum(credited) over user_history as credited_to_date,
        sum(debited) over user_history as debited_to_date
    from user_days
    window user_history as (partition by user_id order by date)
),

final as (
    select
        user_id,
        min(date) as first_active_date,
        max(date) as last_active_date,
        count(*) as active_days,
        array_agg(date order by date) as active_dates,
        -- a leading 0: element k + 1 is the total over the first k active days
        array[0::bigint] || array_agg(credited_to_date order by date) as credited_to_date,
        array[0::bigint] || array_agg(debited_to_date order by date) as debited_to_date
    from running
    group by user_id
)

select * from final
