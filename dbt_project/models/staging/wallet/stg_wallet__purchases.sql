-- Token purchases with their current status; `date` is the UTC day the purchase was
-- created, the day its revenue counts on.
with source as (
    select * from {{ source('wallet', 'wallet__purchases') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

final as (
    select
        id as purchase_id,
        user_id,
        provider,
        status,
        tokens,
        amount_inr,
        created_at,
        updated_at,
        (created_at at time zone 'utc')::date as date,
        status = 'paid' as is_paid
    from source
)

select * from final
