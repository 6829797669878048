{#-
  Seed 002's analytics_token_daily for the UTC days of ledger entries in [since, until)
  (timestamptz SQL expressions): one row per day with credited, debited, net, revenue,
  active users, the per-feature breakdown and the regular/promo split of credited tokens.
  fct_token_daily runs it over its partition window; token_daily_live over the days after
  the last one built, so the nightly mart and today's live numbers are the same query.
-#}
{% macro token_daily_rollup(ledger, purchases, since, until) %}
    with entries as (
        select date, user_id, feature, token_type, direction, amount
        from {{ ledger }}
        where occurred_at >= {{ since }} and occurred_at < {{ until }}
    ),

    paid_purchases as (
        select date, amount_inr
        from {{ purchases }}
        where is_paid and created_at >= {{ since }} and created_at < {{ until }}
    ),

    features as (
        select
            date,
            feature,
            coalesce(sum(amount) filter (where direction = 'credit'), 0)::bigint as credited,
            coalesce(sum(amount) filter (where direction = 'debit'), 0)::bigint as debited
        from entries
        group by date, feature
    ),

    by_feature as (
        select
            date,
            jsonb_object_agg(
                feature, jsonb_build_object('credited', credited, 'debited', debited)
            ) as by_feature
        from features
        group by date
    ),

    days as (
        select
            date,
            coalesce(sum(amount) filter (where direction = 'credit'), 0)::bigint as credited,
            coalesce(sum(amount) filter (where direction = 'debit'), 0)::bigint as debited,
            coalesce(
                sum(amount) filter (where direction = 'credit' and token_type = 'regular'), 0
            ) as credited_regular,
            count(distinct user_id) as active_users,
            count(*) as entries
        from entries
        group by date
    ),

    revenue as (
        select date, sum(amount_inr) as revenue_in_inr, count(*) as paid_purchases
        from paid_purchases
        group by date
    ),

    -- a day with revenue and no ledger entry (a purchase paid later) still has a row
    day_keys as (
        select date from days
        union
        select date from revenue
    ),

    final as (
        select
            day_keys.date,
            coalesce(days.credited, 0) as credited,
            coalesce(days.debited, 0) as debited,
            coalesce(days.credited - days.debited, 0) as net,
            coalesce(revenue.revenue_in_inr, 0)::numeric(15, 2) as revenue_in_inr,
            coalesce(days.active_users, 0) as active_users,
            coalesce(by_feature.by_feature, '{}'::jsonb) as by_feature,
            -- shares of credited tokens; promo is 100 - regular so the two sum to 100
            case
                when days.credited > 0
                    then jsonb_build_object(
                        'regular', round(100.0 * days.credited_regular / days.credited, 2),
                        'promo', 100 - round(100.0 * days.credited_regular / days.credited, 2)
                    )
                else '{}'::jsonb
            end as regular_vs_promo,
            coalesce(days.entries, 0) as entries,
            coalesce(revenue.paid_purchases, 0) as paid_purchases
        from day_keys
        left join days on day_keys.date = days.date
        left join by_feature on day_keys.date = by_feature.date
        left join revenue on day_keys.date = revenue.date
    )

    select * from final
{% endmacro %}

{#-
  A weekly or monthly token trend (`grain` week or month; weeks start on Monday) over the
  periods the partition window touches: sums from fct_token_daily, active users counted
  once per user and period from fct_token_user_daily (never a sum of daily counts).
-#}
{% macro token_period_trend(grain) %}
    {%- set first_day = "date_trunc('" ~ grain ~ "', " ~ window_start() ~ ")::date" -%}
    {%- set last_period = "date_trunc('" ~ grain ~ "', " ~ window_end() ~ " - 1)" -%}
    {%- set end_day = "(" ~ last_period ~ " + interval '1 " ~ grain ~ "')::date" -%}
    with days as (
        select * from {{ ref('fct_token_daily') }}
        where date >= {{ first_day }} and date < {{ end_day }}
    ),

    user_days as (
        select date, user_id from {{ ref('fct_token_user_daily') }}
        where date >= {{ first_day }} and date < {{ end_day }}
    ),

    totals as (
        select
            date_trunc('{{ grain }}', date)::date as period_start,
            sum(credited)::bigint as credited,
            sum(debited)::bigint as debited,
            sum(net)::bigint as net,
            sum(revenue_in_inr) as revenue_in_inr,
            sum(entries)::bigint as entries,
            count(*) filter (where entries > 0) as active_days
        from days
        group by 1
    ),

    users as (
        select
            date_trunc('{{ grain }}', date)::date as period_start,
            count(distinct user_id) as active_users
        from user_days
        group by 1
    ),

    final as (
        select
            totals.period_start as {{ grain }}_start,
            totals.credited,
            totals.debited,
            totals.net,
            totals.revenue_in_inr,
            coalesce(users.active_users, 0) as active_users,
            totals.entries,
            totals.active_days
        from totals
        left join users on totals.period_start = users.period_start
    )

    select * from final
{% endmacro %}
