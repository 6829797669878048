-- Seed 002's analytics_token_daily, one row per UTC day with ledger activity; daily
-- partitioned (the ledger is append-by-day). Revenue: purchases created that day and paid
-- now (a later status change lands by updated_at and rebuilds that day). created_at and
-- updated_at are when this row was built.
with rollup as (
    {{ token_daily_rollup(
        ledger=ref('stg_wallet__wallet_ledger'),
        purchases=ref('stg_wallet__purchases'),
        since=window_start() ~ "::timestamp at time zone 'utc'",
        until=window_end() ~ "::timestamp at time zone 'utc'",
    ) }}
),

final as (
    select
        *,
        now() as created_at,
        now() as updated_at
    from rollup
)

select * from final
