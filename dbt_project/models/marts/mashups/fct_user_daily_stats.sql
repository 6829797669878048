-- Seed 004 user_daily_stats: per signed-in user and UTC day, what they created and what
-- their mashups and profile received that day.
-- only the columns used: the CTE is read three times, so Postgres materializes it, and
-- `select *` would compute the scrubbed props of every event for nothing
with events as (
    select
        user_id,
        user_key,
        event_type,
        event_date,
        mashup_id,
        followed_creator_id
    from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

mashups as (
    select * from {{ ref('stg_mashups__mashups') }}
),

created as (
    select
        user_id,
        event_date as date,
        count(*) as mashups_created
    from events
    where event_type = 'mashup_created' and user_id is not null
    group by user_id, event_date
),

received as (
    select
        mashups.creator_id as user_id,
        events.event_date as date,
        count(*) as plays_received
    from events
    inner join mashups on events.mashup_id = mashups.mashup_id
    where events.event_type = 'mashup_played'
    group by mashups.creator_id, events.event_date
),

followed as (
    select
        followed_creator_id as user_id,
        event_date as date,
        count(distinct user_key) as followers_gained
    from events
    where event_type = 'user_followed' and followed_creator_id is not null
    group by followed_creator_id, event_date
),

grain as (
    select
        user_id,
        date
    from created
    union
    select
        user_id,
        date
    from received
    union
    select
        user_id,
        date
    from followed
),

final as (
    select
        grain.user_id,
        grain.date,
        coalesce(created.mashups_created, 0) as mashups_created,
        coalesce(received.plays_received, 0) as plays_received,
        coalesce(followed.followers_gained, 0) as followers_gained
    from grain
    left join created on grain.user_id = created.user_id and grain.date = created.date
    left join received on grain.user_id = received.user_id and grain.date = received.date
    left join followed on grain.user_id = followed.user_id and grain.date = followed.date
)

select * from final
