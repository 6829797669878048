-- The ledger replayed per user in ledger order (occurred_at, id), from a zero opening
-- balance: what each entry's two balances should be after it, next to what the app
-- recorded. An entry moves a balance when it is well-formed (known direction and token
-- type, positive amount); a malformed one must leave both balances as they were. Read by
-- the asset checks in dagster_project/checks.py, which name the first entry that
-- disagrees; a view, so a check reads the ledger as it is now.
with entries as (
    select
        entry_id,
        user_id,
        token_type,
        direction,
        amount,
        balance_after_regular,
        balance_after_promo,
        occurred_at,
        reject_reason,
        coalesce(
            direction in ('credit', 'debit')
            and token_type in ('regular', 'promo')
            and amount > 0,
            false
        ) as moves_balance
    from {{ ref('base_wallet__wallet_ledger') }}
    where user_id is not null and occurred_at is not null
),

deltas as (
    select
        *,
        case
            when moves_balance and token_type = 'regular'
                then case direction when 'credit' then amount else -amount end
            else 0
        end as delta_regular,
        case
            when moves_balance and token_type = 'promo'
                then case direction when 'credit' then amount else -amount end
            else 0
        end as delta_promo
    from entries
),

replayed as (
    select
        *,
        sum(delta_regular) over ledger_order as expected_regular,
        sum(delta_promo) over ledger_order as expected_promo,
        lag(balance_after_regular, 1, 0::bigint) over ledger_order as recorded_before_regular,
        lag(balance_after_promo, 1, 0::bigint) over ledger_order as recorded_before_promo,
        row_number() over ledger_order as position
    from deltas
    window ledger_order as (
        partition by user_id order by occurred_at, entry_id
        rows between unbounded preceding and current row
    )
),

final as (
    select
        entry_id,
        user_id,
        position,
        occurred_at,
        token_type,
        direction,
        amount,
        moves_balance,
        expected_regular,
        expected_promo,
        balance_after_regular,
        balance_after_promo,
        reject_reason,
        direction = 'debit'
        and moves_balance
        and amount > case token_type
            when 'regular' then recorded_before_regular
            else recorded_before_promo
        end as overdraws,
        coalesce(
            balance_after_regular = expected_regular
            and balance_after_promo = expected_promo,
            false
        ) as balance_agrees
    from replayed
)

select * from final
