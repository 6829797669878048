{{ config(materialized='ephemeral') }}
-- The attribution of each YesGoddess session: its landing event's UTM tags and device.
-- Ephemeral, so it compiles into each mart with that mart's partition window. A landing
-- up to a day before the window still attributes a session that crossed midnight; an
-- attribution row is written when its landing event arrives, so never before the event.
with attributions as (
    select * from {{ ref('stg_yesgoddess__attributions') }}
    where created_at >= ({{ window_start() }} - 1)::timestamp at time zone 'utc'
),

landings as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where
        occurred_at >= ({{ window_start() }} - 1)::timestamp at time zone 'utc'
        and occurred_at < {{ window_end() }}::timestamp at time zone 'utc'
),

final as (
    select distinct on (landings.session_id)
        landings.session_id,
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
