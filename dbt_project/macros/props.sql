{#
    Properties the apps send under more than one name. The seed's own name comes first
    (camelCase from the JavaScript SDKs, e.g. YesGoddess's `revenueCents`), then the
    snake_case a backend or an ETL may write (`revenue_cents`); the first non-null value
    wins (a JSON null counts as absent). docs/SOURCES.md lists the same names per app (a test compares the two).
#}
{% macro prop_names() %}
    {{ return({
        "yesgoddess": {
            "revenue_cents": ["revenueCents", "revenue_cents"],
            "engagement_ms": ["engagementMs", "engagement_ms"],
        },
        "mashups": {
            "track_count": ["trackCount", "track_count"],
            "used_ai": ["usedAI", "usedAi", "used_ai"],
            "has_media": ["has_media", "hasMedia"],
            "from_tier": ["from", "from_tier", "fromTier"],
            "to_tier": ["to", "to_tier", "toTier"],
        },
        "everreach": {
            "platform": ["platform", "os"],
            "app_build": ["app_build", "appBuild", "app_version"],
            "device_model": ["device_model", "deviceModel", "device"],
        },
    }) }}
{% endmacro %}

{% macro prop_json(column, app, prop) -%}
    {%- set names = prop_names()[app][prop] -%}
    coalesce({% for name in names %}nullif({{ column }} -> '{{ name }}', 'null'){{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}

{% macro prop_text(column, app, prop) -%}
    {%- set names = prop_names()[app][prop] -%}
    coalesce({% for name in names %}{{ column }} ->> '{{ name }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
