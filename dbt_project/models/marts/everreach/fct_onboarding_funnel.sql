{%- set window_days = var('onboarding_window_days', 14) -%}
-- Onboarding funnel per signup cohort day (UTC day of a person's first signup_started):
-- signup_started → signup_completed → onboarding_completed → aha_reached → trial_started
-- → purchase_succeeded. A step counts only when it happens after the previous counted
-- step (the first such occurrence) and before the conversion window closes
-- (var onboarding_window_days after signup_started, default 14). A cohort changes for
-- as long as its window is open, so the model is rebuilt whole from the six funnel
-- event names only.
with events as (
    select * from {{ ref('stg_everreach__app_events') }}
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

signup_started as (
    select
        person_key,
        min(occurred_at) as started_at
    from person_events
    where event_name = 'signup_started'
    group by person_key
),

signup_completed as (
    select
        signup_started.person_key,
        signup_started.started_at,
        min(person_events.occurred_at) as reached_at
    from signup_started
    inner join person_events
        on
            signup_started.person_key = person_events.person_key
            and signup_started.started_at < person_events.occurred_at
            and person_events.event_name = 'signup_completed'
            and person_events.occurred_at
            < signup_started.started_at + interval '1 day' * {{ window_days }}
    group by signup_started.person_key, signup_started.started_at
),

onboarding_completed as (
    select
        signup_completed.person_key,
        signup_completed.started_at,
        min(person_events.occurred_at) as reached_at
    from signup_completed
    inner join person_events
        on
            signup_completed.person_key = person_events.person_key
            and signup_completed.reached_at < person_events.occurred_at
            and person_events.event_name = 'onboarding_completed'
            and person_events.occurred_at
            < signup_completed.started_at + interval '1 day' * {{ window_days }}
    group by signup_completed.person_key, signup_completed.started_at
),

aha_reached as (
    select
        onboarding_completed.person_key,
        onboarding_completed.started_at,
        min(person_events.occurred_at) as reached_at
    from onboarding_completed
    inner join person_events
        on
            onboarding_completed.person_key = person_events.person_key
            and onboarding_completed.reached_at < person_events.occurred_at
            and person_events.event_name = 'aha_reached'
            and person_events.occurred_at
            < onboarding_completed.started_at + interval '1 day' * {{ window_days }}
    group by onboarding_completed.person_key, onboarding_completed.started_at
),

trial_started as (
    select
        aha_reached.person_key,
        aha_reached.started_at,
        min(person_events.occurred_at) as reached_at
    from aha_reached
    inner join person_events
        on
            aha_reached.person_key = person_events.person_key
            and aha_reached.reached_at < person_events.occurred_at
            and person_events.event_name = 'trial_started'
            and person_events.occurred_at
            < aha_reached.started_at + interval '1 day' * {{ window_days }}
    group by aha_reached.person_key, aha_reached.started_at
),

purchase_succeeded as (
    select
        trial_started.person_key,
        trial_started.started_at,
        min(person_events.occurred_at) as reached_at
    from trial_started
    inner join person_events
        on
            trial_started.person_key = person_events.person_key
            and trial_started.reached_at < person_events.occurred_at
            and person_events.event_name = 'purchase_succeeded'
            and person_events.occurred_at
            < trial_started.started_at + interval '1 day' * {{ window_days }}
    group by trial_started.person_key, trial_started.started_at
),

counted as (
    select
        (signup_started.started_at at time zone 'utc')::date as cohort_date,
        count(*) as signup_started_users,
        count(signup_completed.person_key) as signup_completed_users,
        count(onboarding_completed.person_key) as onboarding_completed_users,
        count(aha_reached.person_key) as aha_reached_users,
        count(trial_started.person_key) as trial_started_users,
        count(purchase_succeeded.person_key) as purchase_succeeded_users
    from signup_started
    left join signup_completed on signup_started.person_key = signup_completed.person_key
    left join onboarding_completed on signup_started.person_key = onboarding_completed.person_key
    left join aha_reached on signup_started.person_key = aha_reached.person_key
    left join trial_started on signup_started.person_key = trial_started.person_key
    left join purchase_succeeded on signup_started.person_key = purchase_succeeded.person_key
    group by (signup_started.started_at at time zone 'utc')::date
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
