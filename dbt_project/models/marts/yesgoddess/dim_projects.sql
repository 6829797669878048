{{ config(materialized="view") }}
-- a view over the creation mart: it holds no rows of its own, so it keeps every creation
-- retention left there.
-- One row per project (a brand's campaign) with a project_created event: its brand and
-- budget from the first creation, and when that was. A project without one has no row.
with creations as (
    select * from {{ ref('fct_project_creations') }}
),

first_creations as (
    select distinct on (project_id) *
    from creations
    order by project_id asc, created_at asc, event_id asc
),

final as (
    select
        project_id,
        brand_id,
        budget_cents,
        created_at,
        date as created_date
    from first_creations
)

select * from final
