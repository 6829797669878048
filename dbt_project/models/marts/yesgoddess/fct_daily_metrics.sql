{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Seed 001's daily_metrics: one row per day and entity (project, IP asset, license; a
-- missing one is null), rebuilt for the partition window on every run.
with events as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where {{ in_window('occurred_at') }}
),

final as (
    select
        event_date as date,
        project_id,
        ip_asset_id,
        license_id,
        coalesce(sum(revenue_cents), 0)::bigint as revenue_cents,
        count(*) filter (where event_type = 'asset_viewed') as views,
        count(*) filter (
            where event_type in ('asset_downloaded', 'license_clicked')
        ) as clicks,
        count(*) filter (where event_type = 'license_created') as conversions,
        count(distinct visitor_key) as unique_visitors,
        round(coalesce(sum(engagement_ms), 0) / 1000.0, 3) as engagement_time,
        jsonb_build_object(
            'events', count(*),
            'sessions', count(distinct session_id),
            'anonymous_visitors', count(distinct visitor_key) filter (where actor_id is null),
            -- a conversion whose props carry no revenue adds 0 to revenue_cents: counted
            -- here, and a dbt test warns (tests/assert_conversions_carry_revenue.sql)
            'conversions_without_revenue', count(*) filter (
                where event_type = 'license_created' and revenue_cents is null
            )
        ) as metadata
    from events
    group by event_date, project_id, ip_asset_id, license_id
)

select * from final
