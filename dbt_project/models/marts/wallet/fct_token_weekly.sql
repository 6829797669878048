-- Token trend per week (weeks start on Monday, seed 002's weekly granularity); active
-- users are distinct users of the week. Daily partitioned: a day's run rebuilds its week.
{{ config(window_column='week_start', window_grain='week') }}

{{ token_period_trend('week') }}
