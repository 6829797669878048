{{ config(materialized='ephemeral') }}
-- Every landed ledger entry, typed, metadata scrubbed, with the first rule it breaks (or
-- null). Row-local checks only, no window function: a filter on occurred_at reaches the
-- raw index through the staging view (today's live numbers depend on it).
with source as (
    select * from {{ source('wallet', 'wallet__wallet_ledger') }}
),

typed as (
    select
        id as entry_id,
        user_id,
        token_type,
        direction,
        reason,
        amount,
        balance_after_regular,
        balance_after_promo,
        case token_type
            when 'regular' then balance_after_regular
            when 'promo' then balance_after_promo
        end as balance_after,
        reference_id,
        {{ scrub_pii_json('metadata::jsonb') }} as metadata,
        occurred_at,
        _loaded_at as loaded_at
    from source
),

final as (
    select
        *,
        case
            {{ event_time_rejects('occurred_at', 'loaded_at') }}
            when user_id is null then 'user_id is missing'
            when amount is null then 'amount is missing'
            when amount <= 0 then 'amount ' || amount || ' is not positive'
            when direction is null or direction not in ('credit', 'debit')
                then
                    'direction ' || coalesce(quote_literal(direction), 'NULL')
                    || ' is not credit or debit'
            when token_type is null or token_type not in ('regular', 'promo')
                then
                    'token_type ' || coalesce(quote_literal(token_type), 'NULL')
                    || ' is not regular or promo'
            when direction = 'debit' and balance_after < 0
                then
                    'overdraft: debit of ' || amount || ' ' || token_type
                    || ' tokens exceeds the balance before it ('
                    || (balance_after + amount) || ')'
        end as reject_reason
    from typed
)

select * from final
