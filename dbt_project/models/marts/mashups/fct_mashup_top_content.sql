-- Seed 004 "topContent": every mashup played in the 14 days up to the newest day of
-- fct_mashup_daily_stats, with its plays in the last 7 of them against the 7 before.
-- Rebuilt whole each run (a few thousand rows from the daily table, no event scan).
with daily as (
    select * from {{ ref('fct_mashup_daily_stats') }}
),

mashups as (
    select * from {{ ref('stg_mashups__mashups') }}
),

period as (
    select max(date) as period_end from daily
),

recent as (
    select
        daily.*,
        period.period_end,
        daily.date > period.period_end - 7 as is_current
    from daily
    cross join period
    where daily.date > period.period_end - 14
),

totals as (
    select
        mashup_id,
        period_end,
        coalesce(sum(plays) filter (where is_current), 0)::bigint as plays,
        coalesce(sum(likes) filter (where is_current), 0)::bigint as likes,
        coalesce(sum(plays) filter (where not is_current), 0)::bigint as previous_plays
    from recent
    group by mashup_id, period_end
),

final as (
    select
        totals.mashup_id,
        mashups.title,
        mashups.creator_id,
        totals.period_end,
        totals.plays,
        totals.likes,
        totals.previous_plays,
        totals.period_end - 6 as period_start,
        round(
            (totals.plays - totals.previous_plays) * 100.0 / nullif(totals.previous_plays, 0), 1
        ) as growth_pct,
        row_number() over (order by totals.plays desc, totals.mashup_id asc) as rank
    from totals
    left join mashups on totals.mashup_id = mashups.mashup_id
    where totals.plays > 0 or totals.previous_plays > 0
)

select * from final
