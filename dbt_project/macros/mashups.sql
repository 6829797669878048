{#- Mashups plays per UTC day and one dimension of the play (traffic source, country,
    device): plays, sessions, listeners and each value's share of the day's plays —
    the seed 004 dashboard's breakdowns share this shape. `column` is the staging
    column, `name` what the mart calls it. -#}
{% macro plays_share_by(column, name) %}
with events as (
    select * from {{ ref('stg_mashups__analytics_events') }}
    where {{ in_window('occurred_at') }}
),

plays as (
    select
        event_date as date,
        session_id,
        user_key,
        coalesce({{ column }}, 'unknown') as {{ name }}
    from events
    where event_type = 'mashup_played'
),

grouped as (
    select
        date,
        {{ name }},
        count(*) as plays,
        count(distinct session_id) as sessions,
        count(distinct user_key) as listeners
    from plays
    group by date, {{ name }}
),

final as (
    select
        date,
        {{ name }},
        plays,
        sessions,
        listeners,
        round(plays * 100.0 / sum(plays) over (partition by date), 2) as percentage
    from grouped
)

select * from final
{% endmacro %}
