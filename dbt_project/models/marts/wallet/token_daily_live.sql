-- What a dashboard reads for "today": every day fct_token_daily has built, plus the days
-- after its last one (today, and yesterday until the nightly run) computed from the
-- ledger as the query runs (seed 002's v_token_analytics_realtime fallback). The same
-- rollup as the nightly mart, so a day reads the same before and after it is closed.
{{ config(materialized='view') }}

with built_days as (
    select * from {{ ref('fct_token_daily') }}
),

live_days as (
    {{ token_daily_rollup(
        ledger=ref('stg_wallet__wallet_ledger'),
        purchases=ref('stg_wallet__purchases'),
        since="(select coalesce(max(date) + 1, '-infinity'::date)::timestamp at time zone 'utc'
               from " ~ ref('fct_token_daily') ~ ")",
        until="'infinity'::timestamptz",
    ) }}
),

final as (
    select
        date,
        credited,
        debited,
        net,
        revenue_in_inr,
        active_users,
        by_feature,
        regular_vs_promo,
        entries,
        paid_purchases,
        false as is_live
    from built_days
    union all
    select
        date,
        credited,
        debited,
        net,
        revenue_in_inr,
        active_users,
        by_feature,
        regular_vs_promo,
        entries,
        paid_purchases,
        true as is_live
    from live_days
)

select * from final
