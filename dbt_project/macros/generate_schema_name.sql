{#- Schemas are contracts (raw, staging, intermediate, marts, embed, …): use the
    folder's +schema exactly, never dbt's default "<target>_<custom>" prefixing. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
