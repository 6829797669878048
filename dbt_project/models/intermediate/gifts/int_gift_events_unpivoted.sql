-- One row per gift lifecycle event, so each series can be counted on its own date.
with gifts as (
    select * from {{ ref('stg_cryptogift__gifts') }}
),

events as (
    select
        gifts.gift_id,
        gifts.campaign_id,
        lifecycle.event_type,
        lifecycle.occurred_at
    from gifts
    cross join lateral (
        values
        ('created', gifts.created_at),
        ('viewed', gifts.viewed_at),
        ('preclaim', gifts.preclaim_started_at),
        ('education', gifts.education_completed_at),
        ('claimed', gifts.claimed_at),
        ('expired', gifts.expired_at),
        ('returned', gifts.returned_at)
    ) as lifecycle (event_type, occurred_at)
),

final as (
    select
        gift_id,
        campaign_id,
        event_type,
        occurred_at,
        occurred_at::date as event_date
    from events
    where occurred_at is not null
)

select * from final
