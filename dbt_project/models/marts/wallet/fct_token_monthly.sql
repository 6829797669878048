-- Token trend per calendar month; active users are distinct users of the month. Daily
-- partitioned: a day's run rebuilds its month.
{{ config(window_column='month_start', window_grain='month') }}

{{ token_period_trend('month') }}
