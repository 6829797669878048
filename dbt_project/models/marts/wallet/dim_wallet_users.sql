-- One row per wallet user: who they are (email hashed) and their balances after their
-- latest usable ledger entry. Whole rebuild.
with users as (
    select * from {{ ref('stg_wallet__users') }}
),

entries as (
    select
        user_id,
        occurred_at,
        entry_id,
        balance_after_regular,
        balance_after_promo
    from {{ ref('stg_wallet__wallet_ledger') }}
),

latest_entries as (
    select distinct on (user_id) *
    from entries
    order by user_id asc, occurred_at desc, entry_id desc
),

final as (
    select
        users.user_id,
        users.username,
        users.email_hash,
        users.role,
        users.created_at,
        latest_entries.occurred_at as last_entry_at,
        coalesce(latest_entries.balance_after_regular, 0) as balance_regular,
        coalesce(latest_entries.balance_after_promo, 0) as balance_promo
    from users
    left join latest_entries on users.user_id = latest_entries.user_id
)

select * from final
