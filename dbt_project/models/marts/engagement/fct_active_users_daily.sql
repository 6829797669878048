{{ config(window_lookahead_days=29) }}
-- Daily, weekly and monthly active users per app and day, and stickiness (DAU / MAU).
-- WAU and MAU of a day count distinct users over the 7 / 30 days ending that day, never
-- a sum of daily counts. A partition's days also enter the MAU of the 29 days after, so
-- those are rebuilt with it (window_lookahead_days): late events keep later days right.
with user_days as (
    select * from {{ ref('int_user_days_unioned') }}
    where
        date >= {{ window_start() }} - 29
        and date < least({{ window_end() }} + 29, '9999-12-31'::date)
),

days as (
    select distinct
        app,
        date
    from user_days
    where date >= {{ window_start() }}
),

counted as (
    select
        days.app,
        days.date,
        count(distinct user_days.user_id) filter (where user_days.date = days.date) as dau,
        count(distinct user_days.user_id) filter (
            where user_days.date > days.date - 7
        ) as wau,
        count(distinct user_days.user_id) as mau
    from days
    inner join user_days
        on
            days.app = user_days.app
            and user_days.date > days.date - 30
            and days.date >= user_days.date
    group by days.app, days.date
),

final as (
    select
        app,
        date,
        dau,
        wau,
        mau,
        round(100.0 * dau / mau, 2) as stickiness_pct
    from counted
)

select * from final
