-- Seed 004 mashup_daily_stats: per mashup and UTC day, each event counted on its own day.
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

mashup_events as (
    select * from events
    where
        mashup_id is not null
        and event_type in (
            'mashup_viewed', 'mashup_played', 'mashup_play_completed', 'mashup_skipped',
            'mashup_liked', 'mashup_shared', 'comment_posted', 'mashup_downloaded'
        )
),

final as (
    select
        mashup_id,
        event_date as date,
        count(*) filter (where event_type = 'mashup_played') as plays,
        count(distinct user_key) filter (where event_type = 'mashup_played') as unique_plays,
        count(*) filter (where event_type = 'mashup_liked') as likes,
        count(*) filter (where event_type = 'mashup_shared') as shares,
        count(*) filter (where event_type = 'comment_posted') as comments,
        count(*) filter (where event_type = 'mashup_downloaded') as downloads,
        round(
            avg(position_seconds) filter (
                where event_type in ('mashup_play_completed', 'mashup_skipped')
            ),
            1
        ) as avg_watch_time,
        count(*) filter (where event_type = 'mashup_viewed') as views,
        count(*) filter (where event_type = 'mashup_play_completed') as completions,
        count(*) filter (where event_type = 'mashup_skipped') as skips
    from mashup_events
    group by mashup_id, event_date
)

select * from final
