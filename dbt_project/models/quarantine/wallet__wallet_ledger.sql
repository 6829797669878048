-- Ledger entries the marts leave out, each with the rule it broke; raw keeps them too.
with base as (
    select * from {{ ref('base_wallet__wallet_ledger') }}
    where reject_reason is not null
),

final as (
    select
        entry_id,
        user_id,
        token_type,
        direction,
        reason,
        amount,
        balance_after_regular,
        balance_after_promo,
        reference_id,
        occurred_at,
        loaded_at,
        reject_reason
    from base
)

select * from final
