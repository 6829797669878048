{{ config(full_refresh=false) }}
-- full_refresh=false: raw retention deletes old days; this model keeps their rows
-- (macros/retention.sql), which a --full-refresh would lose.
-- Who runs a project (a brand's campaign): the brand whose project_created event names
-- it, with the budget it set. One row per creation, by the UTC day it happened;
-- dim_projects keeps each project's first.
with creations as (
    select * from {{ ref('stg_yesgoddess__events') }}
    where
        {{ in_window('occurred_at') }}
        and event_type = 'project_created'
        and project_id is not null
),

final as (
    select
        event_id,
        project_id,
        event_date as date,
        actor_id as brand_id,
        occurred_at as created_at,
        -- a budget that is not a JSON number is no budget (null), not a failed build
        case
            when jsonb_typeof(props -> 'budget_cents') = 'number'
                then (props ->> 'budget_cents')::numeric
        end as budget_cents
    from creations
)

select * from final
