-- CryptoGift DAO tasks that cannot be used, with the reason; raw keeps them too.
with base as (
    select * from {{ ref('base_cryptogift__tasks') }}
    where reject_reason is not null
),

final as (
    select
        task_id,
        domain,
        task_type,
        status,
        reward_cgc,
        created_at,
        updated_at,
        reject_reason
    from base
)

select * from final
