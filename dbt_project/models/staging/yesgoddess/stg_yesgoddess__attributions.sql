-- Marketing attribution of a landing event: UTM tags lower-cased and hand-tagged
-- spellings mapped (seeds/utm_source_aliases.csv), device/browser/OS from the app where
-- it filled them and from the parsed user agent where it did not.
with source as (
    select * from {{ source('yesgoddess', 'yesgoddess__attribution') }}
),

user_agents as (
    select * from {{ ref('stg_enrichment__user_agents') }}
),

aliases as (
    select * from {{ ref('utm_source_aliases') }}
),

final as (
    select
        source.id as attribution_id,
        source.event_id,
        source.referrer,
        source.landing_page,
        source.user_agent,
        source.created_at,
        coalesce(aliases.utm_source, lower(nullif(trim(source.utm_source), ''))) as utm_source,
        lower(nullif(trim(source.utm_medium), '')) as utm_medium,
        lower(nullif(trim(source.utm_campaign), '')) as utm_campaign,
        nullif(trim(source.utm_term), '') as utm_term,
        nullif(trim(source.utm_content), '') as utm_content,
        coalesce(nullif(source.device_type, ''), user_agents.device_type) as device_type,
        coalesce(nullif(source.browser, ''), user_agents.browser) as browser,
        -- plain column: the marts' lower bound on it reaches raw's index
        coalesce(nullif(source.os, ''), user_agents.os) as os
    from source
    left join user_agents on source.user_agent = user_agents.user_agent
    left join aliases on lower(trim(source.utm_source)) = aliases.alias
)

select * from final
