-- The money check: each built day's credited/debited/active users in fct_token_daily
-- equal the usable ledger's own totals for that day (over the partition window).
with ledger_days as (
    select
        date,
        coalesce(sum(amount) filter (where direction = 'credit'), 0) as credited,
        coalesce(sum(amount) filter (where direction = 'debit'), 0) as debited,
        count(distinct user_id) as active_users
    from {{ ref('stg_wallet__wallet_ledger') }}
    where {{ in_window('occurred_at') }}
    group by date
),

mart_days as (
    select
        date,
        credited,
        debited,
        active_users
    from {{ ref('fct_token_daily') }}
    where {{ in_date_window('date') }}
)

select
    ledger_days.date as ledger_date,
    mart_days.date as mart_date,
    ledger_days.credited as ledger_credited,
    mart_days.credited as mart_credited,
    ledger_days.debited as ledger_debited,
    mart_days.debited as mart_debited,
    ledger_days.active_users as ledger_active_users,
    mart_days.active_users as mart_active_users
from ledger_days
full outer join mart_days on ledger_days.date = mart_days.date
where
    -- a day with revenue and no ledger entry has a mart row of zeros
    coalesce(ledger_days.credited, 0) is distinct from mart_days.credited
    or coalesce(ledger_days.debited, 0) is distinct from mart_days.debited
    or coalesce(ledger_days.active_users, 0) is distinct from mart_days.active_users
