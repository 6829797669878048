{#- Relations the project has moved to another schema. dbt never drops the copy left at
    the old place, and that copy may hold what the move protects: the unredacted events
    (PII) left `staging`, which the e2e scan requires free of emails, for `pii`. -#}
{% macro drop_moved_relations() -%}
    drop view if exists staging.stg_yesgoddess__unredacted_events
{%- endmacro %}
