{{ config(materialized="ephemeral") }}
-- Every landed DAO task, typed, with the reason it cannot be used (or null).
-- stg_cryptogift__tasks keeps the usable rows, quarantine.cryptogift__tasks the rest.
with source as (
    select * from {{ source('cryptogift', 'cryptogift__tasks') }}
    -- rows deleted in the app database stay in raw, marked (ingest/deletions.py)
    where _deleted_at is null
),

typed as (
    select
        id as task_id,
        title,
        status,
        reward_cgc,
        created_at,
        claimed_at,
        completed_at,
        updated_at,
        lower(nullif(trim(domain), '')) as domain,
        lower(nullif(trim(task_type), '')) as task_type,
        lower(nullif(trim(assignee_wallet), '')) as assignee_wallet
    from source
),

final as (
    select
        *,
        case
            when
                status is null
                or status not in ('available', 'claimed', 'in_progress', 'completed')
                then
                    'status ' || coalesce(quote_literal(status), 'null')
                    || ' is not one of available, claimed, in_progress, completed'
            when reward_cgc is null or reward_cgc < 0
                then 'reward_cgc ' || coalesce(reward_cgc::text, 'null') || ' is not >= 0'
            when created_at is null then 'created_at is missing'
        end as reject_reason
    from typed
)

select * from final
