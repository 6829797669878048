-- Usable ledger entries (the rest are in quarantine.wallet__wallet_ledger), with the UTC
-- day and the signed amount. A plain filter over the base: a mart's window on
-- occurred_at reaches the raw index.
with base as (
    select * from {{ ref('base_wallet__wallet_ledger') }}
    where reject_reason is null
),

final as (
    select
        entry_id,
        user_id,
        token_type,
        direction,
        amount,
        balance_after_regular,
        balance_after_promo,
        reference_id,
        metadata,
        occurred_at,
        (occurred_at at time zone 'utc')::date as date,
        loaded_at,
        -- a null reason still moves tokens: it counts under 'unspecified'
        coalesce(reason, 'unspecified') as feature,
        case direction when 'credit' then amount else -amount end as signed_amount
    from base
)

select * from final
