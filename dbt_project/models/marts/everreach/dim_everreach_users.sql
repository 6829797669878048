{{ config(materialized="view") }}
-- a view: retention deletes old raw events, and like the seed's own helpers this counts
-- the events kept; a table would fail the rule that stored marts keep retained days.
-- Seed 003's helper functions as one row per signed-in user: get_user_event_count(user_id,
-- event_name?) is event_count (event_counts for one event name), has_reached_aha_moment
-- (an aha_reached event) and has_converted_from_trial (a purchase_succeeded after the
-- user's first trial_started, also after the trial ran out, as fct_trial_conversion
-- counts it). Like the seed's functions over app_events, it counts the events the
-- warehouse keeps (raw retention: 90 days of app_events), so it is rebuilt whole.
with events as (
    select
        user_id,
        event_name,
        occurred_at
    from {{ ref('stg_everreach__app_events') }}
    where user_id is not null
),

-- one row per user and event name first: the counts by name, and first and last times
-- enough for the flags (a purchase after the first trial exists iff the last one is)
per_name as (
    select
        user_id,
        event_name,
        count(*) as events,
        min(occurred_at) as first_at,
        max(occurred_at) as last_at
    from events
    group by user_id, event_name
),

users as (
    select
        user_id,
        sum(events)::bigint as event_count,
        jsonb_object_agg(event_name, events) as event_counts,
        min(first_at) as first_seen_at,
        max(last_at) as last_seen_at,
        min(first_at) filter (where event_name = 'aha_reached') as aha_reached_at,
        min(first_at) filter (where event_name = 'trial_started') as trial_started_at,
        max(last_at) filter (where event_name = 'purchase_succeeded') as last_purchase_at
    from per_name
    group by user_id
),

final as (
    select
        user_id,
        event_count,
        event_counts,
        first_seen_at,
        last_seen_at,
        aha_reached_at,
        trial_started_at,
        aha_reached_at is not null as has_reached_aha_moment,
        coalesce(last_purchase_at > trial_started_at, false) as has_converted_from_trial
    from users
)

select * from final
