-- CryptoGift referral rewards in CGC: 0–2 per referral, pending or completed.
with source as (
    select * from {{ source('cryptogift', 'cryptogift__referral_rewards') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

final as (
    select
        id as reward_id,
        referral_id,
        amount,
        status,
        created_at,
        (created_at at time zone 'utc')::date as created_date
    from source
)

select * from final
