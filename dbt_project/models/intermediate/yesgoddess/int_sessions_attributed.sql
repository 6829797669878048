{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- The attribution of each YesGoddess session: its landing event's UTM tags and device,
-- one row per session and UTC day of its landing (daily-partitioned, so the campaign and
-- device marts share one computation and read a small table). An attribution row is
-- written when its landing event arrives, so never before the event happened.
with attributions as (
    select * from {{ ref('stg_yesgoddess__attributions') }}
    where created_at >= {{ window_start() }}::timestamp at time zone 'utc'
),

landings as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where {{ in_window('occurred_at') }}
),

final as (
    select distinct on (landings.session_id)
        landings.event_date as date,
        landings.session_id,
        landings.occurred_at as landed_at,
        attributions.utm_source,
        attributions.utm_medium,
        attributions.utm_campaign,
        attributions.device_type,
        attributions.browser,
        attributions.os
    from attributions
    inner join landings on attributions.event_id = landings.event_id
    order by landings.session_id asc, landings.occurred_at asc
)

select * from final
