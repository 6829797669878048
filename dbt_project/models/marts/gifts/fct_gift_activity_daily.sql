-- Daily gift activity where each series sits on its own event date (seed 000
-- correction 4): a gift created Monday and claimed Tuesday counts on both days.
with events as (
    select * from {{ ref('int_gift_events_unpivoted') }}
),

final as (
    select
        event_date as date,
        count(*) filter (where event_type = 'created') as gifts_created,
        count(*) filter (where event_type = 'viewed') as gifts_viewed,
        count(*) filter (where event_type = 'preclaim') as gifts_preclaim,
        count(*) filter (where event_type = 'education') as gifts_education,
        count(*) filter (where event_type = 'claimed') as gifts_claimed,
        count(*) filter (where event_type = 'expired') as gifts_expired,
        count(*) filter (where event_type = 'returned') as gifts_returned
    from events
    group by event_date
)

select * from final
