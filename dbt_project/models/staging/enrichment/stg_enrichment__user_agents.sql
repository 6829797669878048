-- Parsed user agents (dagster_project/ingest/user_agents.py), one row per string.
with source as (
    select * from {{ source('enrichment', 'user_agents') }}
),

final as (
    select
        user_agent,
        device_type,
        browser,
        os
    from source
)

select * from final
