-- One row per usable wallet ledger entry with who made it (username; the warehouse has
-- only the email's hash): seed 002's "transactions" export dataset. A view, so an export
-- reads the entries landed up to the moment it runs.
{{ config(materialized='view') }}

with entries as (
    select * from {{ ref('stg_wallet__wallet_ledger') }}
),

users as (
    select * from {{ ref('stg_wallet__users') }}
),

final as (
    select
        entries.entry_id,
        entries.user_id,
        users.username,
        users.email_hash,
        entries.token_type,
        entries.direction,
        entries.feature as reason,
        entries.amount,
        entries.balance_after_regular,
        entries.balance_after_promo,
        entries.reference_id,
        entries.metadata,
        entries.occurred_at,
        entries.date
    from entries
    left join users on entries.user_id = users.user_id
)

select * from final
