-- Token holds (created, held, then captured, voided or expired) with their current status.
with source as (
    select * from {{ source('wallet', 'wallet__authorizations') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

final as (
    select
        id as authorization_id,
        user_id,
        feature,
        amount,
        status,
        created_at,
        updated_at,
        (created_at at time zone 'utc')::date as date
    from source
)

select * from final
