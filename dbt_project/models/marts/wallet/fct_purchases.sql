-- One row per token purchase with its current status (status changes land, so a whole
-- rebuild): any range's purchase analytics (unique buyers included) are one query over it.
with purchases as (
    select * from {{ ref('stg_wallet__purchases') }}
),

final as (
    select
        purchase_id,
        date,
        user_id,
        provider,
        status,
        is_paid,
        tokens,
        amount_inr,
        created_at,
        updated_at
    from purchases
)

select * from final
