-- CryptoGift DAO tasks in their latest state: usable rows only (the rest are in
-- quarantine.cryptogift__tasks). Domain and task type lowercased, NULL when not given.
with base as (
    select * from {{ ref('base_cryptogift__tasks') }}
    where reject_reason is null
),

final as (
    select
        task_id,
        domain,
        task_type,
        title,
        status,
        reward_cgc,
        assignee_wallet,
        created_at,
        claimed_at,
        completed_at,
        updated_at,
        (created_at at time zone 'utc')::date as created_date,
        (completed_at at time zone 'utc')::date as completed_date
    from base
)

select * from final
