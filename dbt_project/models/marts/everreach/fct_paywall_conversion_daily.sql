{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
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
        occurred_at,
        event_date,
        user_key,
        coalesce(placement, 'unknown') as placement
    from events
    where event_name = 'paywall_shown'
),

-- No join at all (a range join here is at the mercy of the planner's row estimates):
-- each person's views and purchases in one timeline, newest first, so a running min
-- over the rows before a view is the first purchase at or after it (a purchase at the
-- same instant sorts first and counts).
timeline as (
    select
        occurred_at,
        event_date,
        user_key,
        placement,
        false as is_purchase
    from views

    union all

    select
        occurred_at,
        null as event_date,
        user_key,
        null as placement,
        true as is_purchase
    from purchases
),

next_purchases as (
    select
        *,
        min(occurred_at) filter (where is_purchase) over (
            partition by user_key
            order by occurred_at desc, is_purchase desc
            rows between unbounded preceding and current row
        ) as next_purchase_at
    from timeline
),

checked as (
    select
        event_date,
        user_key,
        placement,
        coalesce(next_purchase_at < occurred_at + interval '24 hours', false) as converted
    from next_purchases
    where not is_purchase
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
