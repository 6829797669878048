{{ config(severity="warn") }}
-- Seed 001 sums `revenueCents` of license_created events: one without the prop (under
-- either accepted name, macros/props.sql) counts as a conversion with no revenue. Not an
-- error (a free license is possible), but never silent: one row per day and entity.
with daily_metrics as (
    select * from {{ ref('fct_daily_metrics') }}
),

final as (
    select
        date,
        project_id,
        ip_asset_id,
        license_id,
        conversions,
        (metadata ->> 'conversions_without_revenue')::int as conversions_without_revenue
    from daily_metrics
    where (metadata ->> 'conversions_without_revenue')::int > 0
)

select * from final
