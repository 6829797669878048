-- Paywall conversion per day the paywall was shown and placement. A view converts when
-- the same person buys (purchase_succeeded) within 24 hours after it (seed 003's alert:
-- "paywall shown but no purchase (24hr)"); a purchase converts every view of the 24
-- hours before it, whatever the placement.
with events as (
    select * from {{ ref('stg_everreach__app_events') }}
    where {{ in_window('occurred_at') }}
),

-- a purchase up to 24 hours after the window's last view still converts that view; a
-- late-arriving purchase therefore also concerns the day before the one it happened on
purchases as (
    select * from {{ ref('stg_everreach__app_events') }}
    where
        occurred_at >= {{ window_start() }}::timestamp at time zone 'utc'
        and occurred_at < ({{ window_end() }} + 1)::timestamp at time zone 'utc'
        and event_name = 'purchase_succeeded'
),

views as (
    select
        event_id,
        occurred_at,
        event_date,
        user_key,
        coalesce(placement, 'unknown') as placement
    from events
    where event_name = 'paywall_shown'
),

-- a join on the person, not a correlated subquery: one hash join however many views
converted_views as (
    select distinct
        views.event_id,
        views.occurred_at
    from views
    inner join purchases
        on
            views.user_key = purchases.user_key
            and views.occurred_at <= purchases.occurred_at
            and purchases.occurred_at < views.occurred_at + interval '24 hours'
),

checked as (
    select
        views.*,
        converted_views.event_id is not null as converted
    from views
    left join converted_views
        on
            views.event_id = converted_views.event_id
            and views.occurred_at = converted_views.occurred_at
),

final as (
    select
        event_date as date,
        placement,
        count(*) as paywall_impressions,
        count(distinct user_key) as paywall_users,
        count(*) filter (where converted) as converted_impressions,
        count(distinct user_key) filter (where converted) as converted_users,
        round(
            100.0 * count(distinct user_key) filter (where converted) / count(distinct user_key),
            2
        ) as conversion_rate
    from checked
    group by event_date, placement
)

select * from final
