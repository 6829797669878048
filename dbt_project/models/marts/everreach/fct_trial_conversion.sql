{{ config(
    materialized="incremental",
    incremental_strategy="window_replace",
    window_column="cohort_date",
    full_refresh=false,
    on_schema_change="append_new_columns",
) }}
-- Trials per cohort day (UTC day of a person's first trial_started): how many converted
-- (a purchase_succeeded after the trial started, also after it ran out) and how many
-- expired. A cohort keeps changing for as long as its trials run, so this is rebuilt
-- whole; it reads the three trial event names only. It is incremental only for raw
-- retention: window_replace keeps the cohorts of days before the app_events horizon as
-- built (their events are gone); the window vars (default: all) bound what is replaced.
with events as (
    select * from {{ ref('stg_everreach__app_events') }}
    where event_name in ('trial_started', 'trial_expired', 'purchase_succeeded')
),

-- one pass, no self-join: each event sees its user's first trial start
events_with_trial as (
    select
        user_key,
        event_name,
        occurred_at,
        min(occurred_at) filter (where event_name = 'trial_started')
            over (partition by user_key)
            as trial_started_at
    from events
),

outcomes as (
    select
        user_key,
        trial_started_at,
        min(occurred_at) filter (
            where event_name = 'purchase_succeeded' and occurred_at > trial_started_at
        ) as converted_at,
        min(occurred_at) filter (
            where event_name = 'trial_expired' and occurred_at > trial_started_at
        ) as expired_at
    from events_with_trial
    where trial_started_at is not null
    group by user_key, trial_started_at
),

final as (
    select
        (trial_started_at at time zone 'utc')::date as cohort_date,
        count(*) as trials_started,
        count(converted_at) as trials_converted,
        count(expired_at) as trials_expired,
        count(*) filter (where converted_at is null and expired_at is null) as trials_open,
        round(100.0 * count(converted_at) / count(*), 2) as conversion_rate,
        round(
            (avg(extract(epoch from converted_at - trial_started_at)) / 86400)::numeric, 2
        ) as avg_days_to_convert
    from outcomes
    where {{ in_window('trial_started_at') }}
    group by (trial_started_at at time zone 'utc')::date
)

select * from final
