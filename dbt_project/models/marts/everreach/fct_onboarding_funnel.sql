{%- set window_days = var('onboarding_window_days', 14) -%}
{{ config(
    materialized="incremental",
    incremental_strategy="window_replace",
    window_column="cohort_date",
    full_refresh=false,
    on_schema_change="append_new_columns",
) }}
-- Onboarding funnel per signup cohort day (UTC day of a person's first signup_started):
-- signup_started → signup_completed → onboarding_completed → aha_reached → trial_started
-- → purchase_succeeded. A step counts only when it happens after the previous counted
-- step (the first such occurrence) and before the conversion window closes
-- (var onboarding_window_days after signup_started, default 14). A cohort changes for
-- as long as its window is open, so every run recomputes every cohort from the six
-- funnel event names only. It is incremental only for raw retention: window_replace
-- keeps the cohorts of days before the app_events horizon as built (their events are
-- gone), replaces the others; the window vars (default: all) bound the cohorts replaced.
-- only the columns used: the CTE is read twice, so Postgres materializes it
with events as (
    select
        event_id,
        event_name,
        user_id,
        anonymous_id,
        occurred_at
    from {{ ref('stg_everreach__app_events') }}
    where
        event_name in (
            'signup_started', 'signup_completed', 'onboarding_completed', 'aha_reached',
            'trial_started', 'purchase_succeeded'
        )
),

-- signup_started is sent before the account exists (anonymous_id only); the later steps
-- carry the user_id and the device's anonymous_id: the earliest such pair links them
identities as (
    select distinct on (anonymous_id)
        anonymous_id,
        user_id
    from events
    where user_id is not null and anonymous_id is not null
    order by anonymous_id asc, occurred_at asc, event_id asc
),

person_events as (
    select
        events.event_name,
        events.occurred_at,
        coalesce(
            events.user_id, identities.user_id, 'anon:' || events.anonymous_id
        ) as person_key
    from events
    left join identities on events.anonymous_id = identities.anonymous_id
),

-- One row per person: the first signup_started and every time of each later step, so
-- the strict order below is per-person array work, not a self-join per step.
person_steps as (
    select
        person_key,
        min(occurred_at) filter (where event_name = 'signup_started') as started_at,
        array_agg(occurred_at) filter (
            where event_name = 'signup_completed'
        ) as signup_completed_times,
        array_agg(occurred_at) filter (
            where event_name = 'onboarding_completed'
        ) as onboarding_completed_times,
        array_agg(occurred_at) filter (
            where event_name = 'aha_reached'
        ) as aha_reached_times,
        array_agg(occurred_at) filter (
            where event_name = 'trial_started'
        ) as trial_started_times,
        array_agg(occurred_at) filter (
            where event_name = 'purchase_succeeded'
        ) as purchase_succeeded_times
    from person_events
    group by person_key
),

-- each step: its first time after the previous step's, before the window closes
reached as (
    select
        person_steps.person_key,
        person_steps.started_at,
        signup_completed.reached_at as signup_completed_at,
        onboarding_completed.reached_at as onboarding_completed_at,
        aha_reached.reached_at as aha_reached_at,
        trial_started.reached_at as trial_started_at,
        purchase_succeeded.reached_at as purchase_succeeded_at
    from person_steps
    cross join
        lateral (
            select min(t.at) as reached_at
            from unnest(person_steps.signup_completed_times) as t (at)
            where
                t.at > person_steps.started_at
                and t.at < person_steps.started_at + interval '1 day' * {{ window_days }}
        ) as signup_completed
    cross join
        lateral (
            select min(t.at) as reached_at
            from unnest(person_steps.onboarding_completed_times) as t (at)
            where
                t.at > signup_completed.reached_at
                and t.at < person_steps.started_at + interval '1 day' * {{ window_days }}
        ) as onboarding_completed
    cross join
        lateral (
            select min(t.at) as reached_at
            from unnest(person_steps.aha_reached_times) as t (at)
            where
                t.at > onboarding_completed.reached_at
                and t.at < person_steps.started_at + interval '1 day' * {{ window_days }}
        ) as aha_reached
    cross join
        lateral (
            select min(t.at) as reached_at
            from unnest(person_steps.trial_started_times) as t (at)
            where
                t.at > aha_reached.reached_at
                and t.at < person_steps.started_at + interval '1 day' * {{ window_days }}
        ) as trial_started
    cross join
        lateral (
            select min(t.at) as reached_at
            from unnest(person_steps.purchase_succeeded_times) as t (at)
            where
                t.at > trial_started.reached_at
                and t.at < person_steps.started_at + interval '1 day' * {{ window_days }}
        ) as purchase_succeeded
    where person_steps.started_at is not null and {{ in_window('person_steps.started_at') }}
),

counted as (
    select
        (started_at at time zone 'utc')::date as cohort_date,
        count(*) as signup_started_users,
        count(signup_completed_at) as signup_completed_users,
        count(onboarding_completed_at) as onboarding_completed_users,
        count(aha_reached_at) as aha_reached_users,
        count(trial_started_at) as trial_started_users,
        count(purchase_succeeded_at) as purchase_succeeded_users
    from reached
    group by (started_at at time zone 'utc')::date
),

-- rates are percentages of the cohort (everyone who started signing up that day)
final as (
    select
        *,
        round(100.0 * signup_completed_users / signup_started_users, 2)
            as signup_completed_rate,
        round(100.0 * onboarding_completed_users / signup_started_users, 2)
            as onboarding_completed_rate,
        round(100.0 * aha_reached_users / signup_started_users, 2)
            as aha_reached_rate,
        round(100.0 * trial_started_users / signup_started_users, 2)
            as trial_started_rate,
        round(100.0 * purchase_succeeded_users / signup_started_users, 2)
            as purchase_succeeded_rate,
        {{ window_days }} as window_days
    from counted
)

select * from final
