-- One row per token authorization (hold, then capture, void or expiry) with its current
-- status: seed 002's "authorizations" export dataset. A view over staging.
{{ config(materialized='view') }}

with authorizations as (
    select * from {{ ref('stg_wallet__authorizations') }}
),

final as (
    select
        authorization_id,
        date,
        user_id,
        feature,
        amount,
        status,
        created_at,
        updated_at
    from authorizations
)

select * from final
