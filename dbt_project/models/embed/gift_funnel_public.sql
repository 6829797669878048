-- Public embed: column-limited, last 90 UTC days (today included), computed at query time.
with funnel as (
    select * from {{ ref('fct_gift_funnel_daily') }}
    where date > (now() at time zone 'UTC')::date - 90
),

final as (
    select
        date,
        campaign_id,
        total_created as total
    from funnel
)

select * from final
