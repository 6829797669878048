-- No funnel step ever counts more gifts than were created in its row.
with funnel as (
    select * from {{ ref('fct_gift_funnel_daily') }}
),

final as (
    select *
    from funnel
    where
        total_viewed > total_created
        or total_preclaim > total_created
        or total_education > total_created
        or total_claimed > total_created
)

select * from final
