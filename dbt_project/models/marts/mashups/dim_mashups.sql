-- Seed 004 "Mashup Analytics" (GET /api/analytics/mashups/:id): every mashup with its
-- lifetime figures and retention, counted from every landed event. Lifetime listeners
-- are distinct over the whole life, which no sum of daily distincts gives, hence a whole
-- rebuild from staging rather than a roll-up of fct_mashup_daily_stats.
with events as (
    select
        mashup_id,
        event_type,
        user_key,
        position_seconds
    from {{ ref('stg_mashups__analytics_events') }}
    where
        mashup_id is not null
        and event_type in (
            'mashup_played', 'mashup_play_completed', 'mashup_skipped',
            'mashup_liked', 'mashup_shared', 'comment_posted'
        )
),

mashups as (
    select * from {{ ref('stg_mashups__mashups') }}
),

lifetime as (
    select
        mashup_id,
        count(*) filter (where event_type = 'mashup_played') as plays,
        count(distinct user_key) filter (where event_type = 'mashup_played') as unique_plays,
        count(*) filter (where event_type = 'mashup_liked') as likes,
        count(*) filter (where event_type = 'mashup_shared') as shares,
        count(*) filter (where event_type = 'comment_posted') as comments,
        count(*) filter (where event_type = 'mashup_play_completed') as completions,
        count(*) filter (
            where event_type in ('mashup_play_completed', 'mashup_skipped')
        ) as ended_plays,
        avg(position_seconds) filter (
            where event_type in ('mashup_play_completed', 'mashup_skipped')
        ) as mean_watch_time,
        count(*) filter (
            where event_type = 'mashup_skipped' and position_seconds <= 30
        ) as skips_by_30s,
        count(*) filter (
            where event_type = 'mashup_skipped' and position_seconds <= 60
        ) as skips_by_60s,
        count(*) filter (
            where event_type = 'mashup_skipped' and position_seconds <= 120
        ) as skips_by_120s
    from events
    group by mashup_id
),

-- a mashup row, or events of a mashup whose row has not landed yet
ids as (
    select mashup_id from mashups
    union
    select mashup_id from lifetime
),

final as (
    select
        ids.mashup_id,
        mashups.title,
        mashups.creator_id,
        mashups.created_at,
        coalesce(lifetime.plays, 0) as plays,
        coalesce(lifetime.unique_plays, 0) as unique_plays,
        coalesce(lifetime.likes, 0) as likes,
        coalesce(lifetime.shares, 0) as shares,
        coalesce(lifetime.comments, 0) as comments,
        coalesce(lifetime.ended_plays, 0) as ended_plays,
        round(lifetime.mean_watch_time, 1) as avg_watch_time,
        round(lifetime.completions * 100.0 / nullif(lifetime.plays, 0), 1) as completion_rate,
        round(lifetime.skips_by_30s * 100.0 / nullif(lifetime.ended_plays, 0), 1)
            as drop_off_30s_pct,
        round(lifetime.skips_by_60s * 100.0 / nullif(lifetime.ended_plays, 0), 1)
            as drop_off_60s_pct,
        round(lifetime.skips_by_120s * 100.0 / nullif(lifetime.ended_plays, 0), 1)
            as drop_off_120s_pct
    from ids
    left join mashups on ids.mashup_id = mashups.mashup_id
    left join lifetime on ids.mashup_id = lifetime.mashup_id
)

select * from final
