{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Who owns an IP asset: the creator whose asset_uploaded event names it. One row per
-- upload, by the UTC day it happened; dim_ip_assets keeps each asset's first.
with uploads as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where
        {{ in_window('occurred_at') }}
        and event_type = 'asset_uploaded'
        and ip_asset_id is not null
),

final as (
    select
        event_id,
        ip_asset_id,
        project_id,
        event_date as date,
        actor_id as creator_id,
        occurred_at as uploaded_at,
        props ->> 'media_type' as media_type
    from uploads
)

select * from final
