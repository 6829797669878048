with source as (
    select * from {{ source('cryptogift', 'gift_analytics') }}
),

final as (
    select
        gift_id,
        token_id,
        creator_address,
        claimer_address,
        referrer_address,
        value_usd,
        value_cgc,
        nullif(trim(campaign_id), '') as campaign_id,
        -- UTC wall-clock timestamps: ::date on them is the UTC day, whatever the session
        gift_created_at at time zone 'UTC' as created_at,
        gift_viewed_at at time zone 'UTC' as viewed_at,
        preclaim_started_at at time zone 'UTC' as preclaim_started_at,
        education_completed_at at time zone 'UTC' as education_completed_at,
        gift_claimed_at at time zone 'UTC' as claimed_at,
        gift_expired_at at time zone 'UTC' as expired_at,
        gift_returned_at at time zone 'UTC' as returned_at,
        -- only a hash leaves staging: a plain email that slipped in is hashed here
        case
            when email_hash is null or trim(email_hash) = '' then null
            when email_hash like 'sha256:%' then email_hash
            else 'sha256:' || encode(sha256(convert_to(lower(trim(email_hash)), 'UTF8')), 'hex')
        end as email_hash,
        lower(nullif(trim(device_type), '')) as device_type,
        upper(nullif(trim(country), '')) as country,
        nullif(trim(source), '') as utm_source,
        nullif(trim(campaign), '') as utm_campaign,
        redis_synced_at at time zone 'UTC' as synced_at
    from source
)

select * from final
