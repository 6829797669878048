{{ config(materialized="ephemeral") }}
-- Every landed referral row, typed, with the reason it cannot be used (or null).
-- stg_cryptogift__referrals keeps the usable rows, quarantine.cryptogift__referrals the rest.
with source as (
    select * from {{ source('cryptogift', 'cryptogift__referrals') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

typed as (
    select
        id as referral_id,
        referral_code_id,
        level,
        status,
        created_at,
        updated_at,
        lower(trim(referred_wallet)) as referred_wallet
    from source
),

final as (
    select
        *,
        case
            when level is null or level not between 1 and 3
                then 'level ' || coalesce(level::text, 'null') || ' is not 1, 2 or 3'
            when status is null or status not in ('pending', 'active', 'inactive')
                then
                    'status ' || coalesce(quote_literal(status), 'null')
                    || ' is not one of pending, active, inactive'
            when created_at is null then 'created_at is missing'
        end as reject_reason
    from typed
)

select * from final
